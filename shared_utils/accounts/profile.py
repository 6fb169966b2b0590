"""The trader's profile (name, Indian mobile number, state) stored ON THE COGNITO USER.

Decision: Cognito, not a PROFILE item in the broker accounts table. The user pool already
declares ``name``, ``phone_number`` and ``custom:state`` (shared_utils.identity, the CDK stack),
and the broker accounts table's user partition is read whole as broker accounts
(``BrokerAccountRepository.list`` queries the partition without a prefix), so a foreign item there
would break it. Attributes: ``name`` (<= 100 chars), ``phone_number`` (E.164 ``+91XXXXXXXXXX``,
normalised by ``identity.normalise_indian_phone``), ``custom:state`` (an Indian state or union
territory, as on a contract note's stamp duty line). ``email`` is shown read-only.

The Cognito admin APIs take the USERNAME, which the authorizer's ``cognito:username`` claim
carries (the sub is used when the claim is absent: pools whose username is the sub).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from pydantic import BaseModel, Field, field_validator

from shared_utils.identity import normalise_indian_phone
from shared_utils.models.common import RequestModel

STATES_AND_UTS = (
    "Andhra Pradesh", "Arunachal Pradesh", "Assam", "Bihar", "Chhattisgarh", "Goa", "Gujarat", "Haryana",
    "Himachal Pradesh", "Jharkhand", "Karnataka", "Kerala", "Madhya Pradesh", "Maharashtra", "Manipur",
    "Meghalaya", "Mizoram", "Nagaland", "Odisha", "Punjab", "Rajasthan", "Sikkim", "Tamil Nadu", "Telangana",
    "Tripura", "Uttar Pradesh", "Uttarakhand", "West Bengal",
    "Andaman and Nicobar Islands", "Chandigarh", "Dadra and Nagar Haveli and Daman and Diu", "Delhi",
    "Jammu and Kashmir", "Ladakh", "Lakshadweep", "Puducherry",
)
_BY_KEY = {s.lower(): s for s in STATES_AND_UTS}


class ProfileUpdate(RequestModel):
    """PUT /profile: every field optional; only the given ones change."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone_number: str | None = Field(default=None, description="Indian mobile: 98765 43210 / +91-9876543210")
    state: str | None = Field(default=None, description="Indian state or union territory")

    @field_validator("phone_number")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_indian_phone(value)
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("phone_number: ")) from None

    @field_validator("state")
    @classmethod
    def _state(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = _BY_KEY.get(" ".join(value.split()).lower())
        if found is None:
            raise ValueError("not an Indian state or union territory (e.g. Maharashtra, Delhi)")
        return found


class Profile(BaseModel):
    name: str | None = None
    phone_number: str | None = None
    state: str | None = None
    email: str | None = None


class ProfileService:
    """Reads/writes the profile attributes of a Cognito user (``USER_POOL_ID`` by default)."""

    def __init__(self, user_pool_id: str | None = None, client: Any | None = None) -> None:
        self.user_pool_id = user_pool_id or os.environ.get("USER_POOL_ID", "")
        self.client = client or boto3.client("cognito-idp")

    def get(self, username: str) -> Profile:
        """Raises LookupError-compatible NotFound when the user does not exist."""
        from shared_utils.persistence.repositories import NotFound

        try:
            user = self.client.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
        except self.client.exceptions.UserNotFoundException:
            raise NotFound("user not found") from None
        attrs = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        return Profile(name=attrs.get("name"), phone_number=attrs.get("phone_number"),
                       state=attrs.get("custom:state"), email=attrs.get("email"))

    def update(self, username: str, body: ProfileUpdate) -> Profile:
        attributes = []
        if body.name is not None:
            attributes.append({"Name": "name", "Value": body.name})
        if body.phone_number is not None:
            attributes.append({"Name": "phone_number", "Value": body.phone_number})
        if body.state is not None:
            attributes.append({"Name": "custom:state", "Value": body.state})
        if attributes:
            self.client.admin_update_user_attributes(UserPoolId=self.user_pool_id, Username=username,
                                                     UserAttributes=attributes)
        return self.get(username)
