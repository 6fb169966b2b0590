"""REST GET/PUT /profile: the trader's name, Indian mobile number and state, stored on the
Cognito user (``shared_utils.accounts.profile`` explains why). The Cognito username comes from
the authorizer's ``cognito:username`` claim (the ``sub`` if absent); 401 without claims.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.auth_broker.common import build_auth_app
from lambda_functions.options_platform.common import OK_RESPONSES, logger, user_id_of
from shared_utils.accounts.profile import Profile, ProfileService, ProfileUpdate

router = Router()


@lru_cache(maxsize=1)
def profile_service() -> ProfileService:
    return ProfileService()


def _username() -> str:
    user_id_of(router)  # 401 without claims
    claims = router.current_event.raw_event["requestContext"]["authorizer"]["claims"]
    username = claims.get("cognito:username") or claims.get("sub")
    if not username:
        raise UnauthorizedError("no authenticated user on this request")
    return str(username)


@router.get("/profile", responses=OK_RESPONSES, summary="The trader's profile")
def get_profile() -> Profile:
    return profile_service().get(_username())


@router.put("/profile", responses=OK_RESPONSES,
            summary="Change name, phone (Indian mobile, normalised to +91XXXXXXXXXX) or state")
def put_profile(body: ProfileUpdate) -> Profile:
    profile = profile_service().update(_username(), body)
    logger.info("profile updated", extra={"fields": sorted(body.model_dump(exclude_none=True))})
    return profile


app = build_auth_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
