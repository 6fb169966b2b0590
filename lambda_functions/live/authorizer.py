"""The WebSocket API's ``$connect`` authorizer (Lambda REQUEST authorizer, identity source
``route.request.querystring.token``): allows the connection when the ``token`` query parameter is
a valid Cognito ID token of the platform's pool (shared_utils.live.auth), and hands the user's id
(the token's ``sub``) and the token's expiry (``exp``, epoch seconds) to the ``$connect``
integration as ``requestContext.authorizer.user_id`` / ``token_exp``.

A missing or invalid token raises ``Unauthorized`` (API Gateway answers 401 and no connection
exists). Event: API Gateway WebSocket REQUEST authorizer event (``methodArn``,
``queryStringParameters``). Returns an IAM policy document.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger

from shared_utils.live.auth import CognitoTokenVerifier, InvalidToken

logger = Logger()


@lru_cache(maxsize=1)
def verifier() -> CognitoTokenVerifier:
    return CognitoTokenVerifier.from_environment()


def policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict:
    out = {"principalId": principal,
           "policyDocument": {"Version": "2012-10-17",
                              "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}}
    if context:
        out["context"] = context
    return out


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):  # noqa: ARG001
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        user_id, token_exp = verifier().identity(token)
    except InvalidToken as exc:
        logger.info("live connection refused", extra={"reason": str(exc)})
        raise Exception("Unauthorized") from None  # API Gateway's documented way to answer 401
    return policy(user_id, "Allow", event["methodArn"], {"user_id": user_id, "token_exp": token_exp})
