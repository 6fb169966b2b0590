"""GET/PUT /profile on the Cognito user (moto cognito-idp)."""

from __future__ import annotations

import json

import boto3
import pytest

from local.apigw import FakeLambdaContext, build_event


@pytest.fixture
def pool(aws, monkeypatch):
    from lambda_functions.auth_broker import profile

    idp = boto3.client("cognito-idp", region_name="ap-south-1")
    pool_id = idp.create_user_pool(PoolName="ql-algo-trading-local-users", Schema=[
        {"Name": "state", "AttributeDataType": "String", "Mutable": True,
         "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "64"}}])["UserPool"]["Id"]
    idp.admin_create_user(UserPoolId=pool_id, Username="trader1",
                          UserAttributes=[{"Name": "email", "Value": "t@example.in"}])
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    profile.profile_service.cache_clear()
    yield idp
    profile.profile_service.cache_clear()


def call(method, body=None, claims=None):
    from lambda_functions.auth_broker import profile

    result = profile.handler(build_event(method, "/profile", body, claims=claims), FakeLambdaContext())
    return result["statusCode"], json.loads(result["body"])


CLAIMS = {"sub": "3f1c-sub", "cognito:username": "trader1"}


def test_profile_round_trip_with_indian_phone_and_state(pool):
    status, body = call("PUT", {"name": "Asha Rao", "phone_number": "098765 43210", "state": "maharashtra"}, CLAIMS)
    assert status == 200, body
    assert body == {"name": "Asha Rao", "phone_number": "+919876543210", "state": "Maharashtra", "email": "t@example.in"}
    assert call("GET", claims=CLAIMS) == (200, body)


def test_profile_validation_and_auth(pool):
    status, body = call("PUT", {"phone_number": "+1 415 555 0100"}, CLAIMS)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "phone_number"]
    assert "Indian mobile" in body["detail"][0]["msg"]
    status, body = call("PUT", {"state": "Atlantis"}, CLAIMS)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "state"]
    assert call("GET")[0] == 401
    assert call("GET", claims={"sub": "nobody", "cognito:username": "nobody"})[0] == 404
