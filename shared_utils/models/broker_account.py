"""Broker account: one trader's account at one broker (auth-broker stack, broker accounts table).

Credentials never live here: they are in Secrets Manager, one secret per account
(``secret_name``), and no route returns them. ``session`` holds the day's login status (the
token itself is stored in the account's secret, not in this item).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared_utils.models.common import DomainModel, RecordMeta
from shared_utils.models.enums import BrokerName, EntityStatus, TradingMode


class SessionStatus(DomainModel):
    valid_until: AwareDatetime | None = None
    last_login_at: AwareDatetime | None = None
    last_login_result: str | None = None
    #: LOGGED_OUT: the daily forced logout (15:45 IST) ended it at the broker (issue 16)
    status: Literal["NONE", "VALID", "EXPIRED", "FAILED", "LOGGED_OUT"] = "NONE"


class BrokerAccount(RecordMeta):
    user_id: str
    client_id: str
    broker: BrokerName
    display_name: str = ""
    trading_mode: TradingMode = TradingMode.PAPER
    secret_name: str | None = None
    session: SessionStatus = Field(default_factory=SessionStatus)
    status: EntityStatus = EntityStatus.ACTIVE
    entity_type: Literal["BROKER_ACCOUNT"] = "BROKER_ACCOUNT"
