"""The Cognito ID-token check of a live-updates connection.

The browser's WebSocket API cannot set an Authorization header, so the app passes its Cognito
ID token as the ``token`` query parameter of the connection URL (``wss://.../{stage}?token=...``;
only over TLS in AWS). The token must be an RS256 ID token of the platform's user pool:
signature against the pool's JWKS, issuer, audience = the app client, ``token_use == "id"``,
not expired. The connection belongs to the token's ``sub`` (the platform's user_id), as the
REST API's Cognito authorizer gives it.

Sources: Amazon Cognito, "Verifying a JSON web token"
(https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html).
"""

from __future__ import annotations

import os
from typing import Any

import jwt
from jwt import PyJWKClient


class InvalidToken(Exception):
    """The token is missing, forged, expired or not an ID token of this pool (says which)."""


class CognitoTokenVerifier:
    """Verifies ID tokens of one user pool and app client.

    Args:
        jwks_url: the pool's ``/.well-known/jwks.json`` (moto's locally).
        issuer: ``https://cognito-idp.{region}.amazonaws.com/{user_pool_id}``.
        client_id: the app client the tokens are issued to (the ``aud`` claim).
    """

    def __init__(self, jwks_url: str, issuer: str, client_id: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._jwks = PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)

    @classmethod
    def from_environment(cls) -> "CognitoTokenVerifier":
        """From ``USER_POOL_ID``, ``USER_POOL_CLIENT_ID`` and ``AWS_REGION`` (the authorizer's
        environment in the stack). The keys come from the issuer's JWKS, or from
        ``AWS_ENDPOINT_URL_COGNITO_IDP`` / ``AWS_ENDPOINT_URL`` when set (moto, which issues
        tokens with the AWS issuer but serves the keys itself), as boto3 picks its endpoint."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-south-1"
        pool = os.environ["USER_POOL_ID"]
        issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        endpoint = os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or os.environ.get("AWS_ENDPOINT_URL")
        keys_base = f"{endpoint.rstrip('/')}/{pool}" if endpoint else issuer
        return cls(f"{keys_base}/.well-known/jwks.json", issuer, os.environ["USER_POOL_CLIENT_ID"])

    def claims(self, token: str | None) -> dict[str, Any]:
        """The verified claims of ``token``.

        Raises:
            InvalidToken: with the reason.
        """
        if not token:
            raise InvalidToken("missing token (connect with ?token=<Cognito ID token>)")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.client_id, issuer=self.issuer,
                                options={"require": ["exp", "sub", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("token_use") != "id":
            raise InvalidToken("not an ID token")
        return claims

    def user_id(self, token: str | None) -> str:
        """The platform user_id (Cognito ``sub``) of a valid token. Raises InvalidToken."""
        return str(self.claims(token)["sub"])

    def identity(self, token: str | None) -> tuple[str, int]:
        """``(user_id, exp)`` of a valid token (``exp``: epoch seconds). Raises InvalidToken."""
        claims = self.claims(token)
        return str(claims["sub"]), int(claims["exp"])
