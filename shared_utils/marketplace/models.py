"""Marketplace shapes: listings (an ADMIN basket published), subscriptions, and the answers of
the marketplace routes.

Money is ``Decimal`` rupees. A listing never names the admin's accounts; a subscription never
leaves its subscriber's partition (tenant isolation: another subscriber or the admin sees only
``subscriber_count``).

Visibility (seed 001 ``visibility``):

- ``PUBLIC``: in the browse list; its definition (strategies, legs, schedule) is shown to anyone
  signed in; anyone may subscribe.
- ``SUBSCRIBERS_ONLY``: in the browse list with its card and performance; the definition is
  shown only to its subscribers (and the admin); anyone may subscribe.
- ``PRIVATE``: not listed and not subscribable (404 to anyone but the admin and existing
  subscribers, who keep running and seeing it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shared_utils.models.allocation import RiskLimits
from shared_utils.models.common import DomainModel, RecordMeta, RequestModel, UpdateRequest, no_repeats


class Visibility(str, Enum):
    PUBLIC = "PUBLIC"
    SUBSCRIBERS_ONLY = "SUBSCRIBERS_ONLY"
    PRIVATE = "PRIVATE"


class Category(str, Enum):
    """Seed 001 ``category``."""

    CONSERVATIVE = "CONSERVATIVE"
    AGGRESSIVE = "AGGRESSIVE"
    HEDGED = "HEDGED"
    INCOME = "INCOME"
    MOMENTUM = "MOMENTUM"


class RiskLevel(str, Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class SubscriptionStatus(str, Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"


class SubscriptionConfig(RequestModel):
    """Seed 001 ``subscription_config``. ``min_capital`` (rupees; the seed's
    ``min_subscription_amount`` is accepted as a synonym): a subscriber must declare at least this
    much capital; ``max_subscribers``: capacity (409 once reached). Fees are recorded, not
    billed (billing is off in every environment: seed 001 ``enable_subscription_billing``)."""

    type: Literal["FREE", "PAID", "PERFORMANCE_BASED"] = "FREE"
    monthly_fee: Decimal | None = Field(default=None, ge=0, le=Decimal("1e7"), decimal_places=2)
    performance_fee_percentage: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)
    min_capital: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=2)
    max_subscribers: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="before")
    @classmethod
    def _seed_synonym(cls, data: Any) -> Any:
        if isinstance(data, dict) and "min_subscription_amount" in data:
            data = dict(data)
            value = data.pop("min_subscription_amount")
            data.setdefault("min_capital", value)
        return data


class ListingCreate(RequestModel):
    """POST /options/marketplace/baskets (ADMIN group): publish one of the admin's baskets."""

    basket_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    visibility: Visibility = Visibility.PUBLIC
    category: Category
    risk_level: RiskLevel
    description: str = Field(default="", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    subscription_config: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    featured: bool = False

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not 1 <= len(tag) <= 40:
                raise ValueError(f"tag {tag[:50]!r}: 1-40 characters")
        return tags


class ListingUpdate(UpdateRequest):
    """PUT /options/marketplace/baskets/{basket_id} (ADMIN, the basket's owner)."""

    visibility: Visibility | None = None
    category: Category | None = None
    risk_level: RiskLevel | None = None
    description: str | None = Field(default=None, max_length=2000)
    tags: list[str] | None = Field(default=None, max_length=20)
    subscription_config: SubscriptionConfig | None = None
    featured: bool | None = None


class Listing(RecordMeta):
    """Stored under the MARKETPLACE partition, ``LISTING#{basket_id}``. ``owner_user_id`` is the
    admin's Cognito sub: used to read the definition, never shown to a subscriber."""

    basket_id: str
    owner_user_id: str
    creator_name: str = ""
    basket_name: str
    visibility: Visibility
    category: Category
    risk_level: RiskLevel
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    subscription_config: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    featured: bool = False
    subscriber_count: int = 0
    entity_type: Literal["LISTING"] = "LISTING"


class SubscriptionAccount(RequestModel):
    """One of the subscriber's own broker accounts: ``lot_multiplier`` scales every leg's lots
    of every strategy in this account (a strategy's override may replace it)."""

    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    priority: int = Field(default=1, ge=1, le=999)
    lot_multiplier: int = Field(default=1, ge=1, le=1000)
    risk_limits: RiskLimits = Field(default_factory=RiskLimits)


class LegLots(RequestModel):
    lots: int = Field(ge=1, le=10000)


class StrategyOverride(RequestModel):
    """Per strategy of the basket (seed 001 ``strategy_broker_overrides``): ``enabled`` false
    skips the strategy; ``lot_multiplier`` replaces the accounts' multiplier for it;
    ``leg_overrides`` {leg_no: {lots}} sets a leg's lots in every account outright (legs not
    named keep base lots x multiplier, so a leg the admin adds later is traded too)."""

    enabled: bool = True
    lot_multiplier: int | None = Field(default=None, ge=1, le=1000)
    leg_overrides: dict[str, LegLots] | None = None

    @field_validator("leg_overrides")
    @classmethod
    def _keys(cls, value: dict[str, LegLots] | None) -> dict[str, LegLots] | None:
        if value is None:
            return None
        out = {}
        for key, lots in value.items():
            if not str(key).strip().isdigit() or not 1 <= int(key) <= 99:
                raise ValueError(f"leg_overrides: key {key!r} is not a leg number 1-99")
            out[str(int(key))] = lots
        return out


class SubscribeRequest(RequestModel):
    """POST /options/baskets/{basket_id}/subscribe. ``capital``: rupees the subscriber commits
    (checked against the basket's ``min_capital``)."""

    allocations: list[SubscriptionAccount] = Field(min_length=1, max_length=10)
    strategy_overrides: dict[str, StrategyOverride] = Field(default_factory=dict)
    capital: Decimal | None = Field(default=None, gt=0, le=Decimal("1e12"), decimal_places=2)

    @field_validator("allocations")
    @classmethod
    def _unique(cls, allocations: list[SubscriptionAccount]) -> list[SubscriptionAccount]:
        return no_repeats(allocations, "client_id")


class SubscriptionUpdate(UpdateRequest):
    """PUT /options/subscriptions/{subscription_id}: change accounts, multipliers, overrides."""

    allocations: list[SubscriptionAccount] | None = Field(default=None, min_length=1, max_length=10)
    strategy_overrides: dict[str, StrategyOverride] | None = None


class Subscription(RecordMeta):
    """Stored in the subscriber's partition, ``SUBSCRIPTION#{subscription_id}``."""

    subscription_id: str
    user_id: str
    basket_id: str
    owner_user_id: str
    basket_name: str = ""
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    subscription_date: datetime
    allocations: list[SubscriptionAccount]
    strategy_overrides: dict[str, StrategyOverride] = Field(default_factory=dict)
    strategy_ids: list[str] = Field(default_factory=list)
    capital: Decimal | None = None
    cancelled_at: datetime | None = None
    entity_type: Literal["SUBSCRIPTION"] = "SUBSCRIPTION"


class SubscriptionLink(RecordMeta):
    """Stored in the subscriber's partition, ``SUBSCRIBED#{strategy_id}``: the definition owner
    of a strategy the subscriber runs (Prepare/Resolve follow it: shared_utils.marketplace.
    definitions) with what the subscriber runs it with."""

    user_id: str
    strategy_id: str
    owner_user_id: str
    basket_id: str
    subscription_id: str
    status: SubscriptionStatus
    allocations: list[SubscriptionAccount]
    override: StrategyOverride = Field(default_factory=StrategyOverride)
    entity_type: Literal["SUBSCRIBED"] = "SUBSCRIBED"


# ---- answers ---------------------------------------------------------------------------------

class BasketPerformance(DomainModel):
    """The basket's own track record: its paper executions (the admin's PAPER accounts), per
    trade day. Rupees; ``executions`` counts ENTRY executions; ``win_rate`` percent of days with
    positive P&L."""

    source: str = "paper executions of the basket's strategies"
    executions: int = 0
    completed: int = 0
    trade_days: int = 0
    realised_pnl: Decimal = Decimal(0)
    unrealised_pnl: Decimal = Decimal(0)
    win_rate: Decimal | None = None
    daily: list[dict[str, Any]] = Field(default_factory=list)


class MarketplaceCard(DomainModel):
    basket_id: str
    basket_name: str
    creator_name: str = ""
    visibility: Visibility
    category: Category
    risk_level: RiskLevel
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    subscription_config: SubscriptionConfig
    featured: bool = False
    subscriber_count: int = 0
    seats_left: int | None = None
    strategy_count: int = 0
    subscribed: bool = False


class MarketplaceList(DomainModel):
    items: list[MarketplaceCard]


class CategoryCount(DomainModel):
    category: Category
    baskets: int


class CategoryList(DomainModel):
    items: list[CategoryCount]


class PublicLeg(DomainModel):
    """A leg as a prospective subscriber sees it: the rule, never an account."""

    leg_no: int
    lots: int
    transaction_type: str
    leg_type: str
    underlying: str
    entry_by: str
    strike_selection_config: dict[str, Any] | None = None
    expiry_type: str
    expiry_offset: int
    stop_loss: Decimal | None = None
    stop_loss_type: str | None = None
    target: Decimal | None = None
    order_type: str
    enabled: bool = True


class PublicStrategy(DomainModel):
    strategy_id: str
    strategy_name: str
    description: str = ""
    underlying: str
    product: str
    entry_time: str
    exit_time: str
    entry_days: list[str]
    exit_days: list[str]
    status: str
    legs: list[PublicLeg] = Field(default_factory=list)


class MarketplaceDetail(DomainModel):
    basket: MarketplaceCard
    definition_visible: bool
    note: str | None = None
    strategies: list[PublicStrategy] = Field(default_factory=list)
    performance: BasketPerformance


class Notice(DomainModel):
    at: datetime
    basket_id: str
    what: str
    applies_from: str = "the next execution"


class SubscriptionView(DomainModel):
    """A subscription as its subscriber sees it (no admin id)."""

    subscription_id: str
    basket_id: str
    basket_name: str = ""
    status: SubscriptionStatus
    subscription_date: datetime
    allocations: list[SubscriptionAccount]
    strategy_overrides: dict[str, StrategyOverride] = Field(default_factory=dict)
    strategy_ids: list[str] = Field(default_factory=list)
    capital: Decimal | None = None
    cancelled_at: datetime | None = None
    updated_at: datetime
    version: int


class SubscriptionList(DomainModel):
    items: list[SubscriptionView]


class SubscriptionDetail(DomainModel):
    subscription: SubscriptionView
    strategies: list[PublicStrategy]
    notices: list[Notice]
    lots_per_execution: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="strategy_id -> client_id -> total lots per execution")
