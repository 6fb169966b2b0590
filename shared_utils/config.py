"""Typed, validated access to ``config/environments.json`` (shape of seed 001,
"Environment Configuration Files").

``load_environment("dev")`` returns an :class:`EnvironmentConfig`; a missing or bad key raises
:class:`ConfigError` whose message names the key path (``environments.dev.options_platform.
max_legs_per_strategy: Field required``). Resource names follow
``{company.short_name}-{project}-{env}-{resource}``, e.g.
``ql-algo-trading-dev-trading-configurations``.

Inside a Lambda the file is bundled with the code; ``QL_CONFIG_FILE`` overrides its path and
``QL_ENV`` selects the environment (default ``dev``).
"""

from __future__ import annotations

from decimal import Decimal

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "environments.json"
ENVIRONMENT_NAMES = ("local", "dev", "staging", "production")


class ConfigError(ValueError):
    """The environment configuration is missing, malformed, or names an unknown environment."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompanyConfig(_Strict):
    name: str
    short_name: str = Field(pattern=r"^[a-z][a-z0-9]{0,9}$")


class AwsConfig(_Strict):
    default_region: str


class AuthBrokerConfig(_Strict):
    enable_static_egress_ip: bool
    nat_gateways: int = Field(ge=0, le=3)
    session_refresh_time_ist: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    health_check_time_ist: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: issue 16: login reminder to traders whose LIVE accounts have no session (before the open)
    login_reminder_time_ist: str = Field(default="08:15", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: issue 16: SEBI's daily forced logout of API sessions (after the 15:30/15:40 close)
    session_logout_time_ist: str = Field(default="15:45", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class OptionsPlatformConfig(_Strict):
    market_data_ttl: int = Field(gt=0, description="seconds")
    enable_subscription_billing: bool
    max_strategies_per_basket: int = Field(gt=0)
    max_legs_per_strategy: int = Field(gt=0, le=99)
    max_allocations_per_strategy: int = Field(gt=0, le=40, description="broker accounts per strategy; also "
                                              "sizes the emitter's batches so one run's Map fits its concurrency")


class LimitsConfig(_Strict):
    """Platform size limits (issue 13 / invariant I8), refused at the API (422 naming the field
    and the limit) and again at Resolve (the account's orders are not planned, with the reason).

    - ``max_lots_per_leg``: lots of one leg in one account (after the allocation's multiplier
      or override).
    - ``max_units_per_order``: units (lots x lot size) of one leg in one account BEFORE it is
      sliced at the exchange's freeze quantity (slicing then makes orders of <= freeze units).
    - ``max_notional_per_account``: rupees per account per execution, the exchange's notional
      value of options, (strike + premium) x quantity, summed over the account's orders
      (NSE's definition for options contracts); checked at Resolve, where strikes are known.
    """

    max_lots_per_leg: int = Field(default=200, gt=0, le=10000)
    max_units_per_order: int = Field(default=20000, gt=0)
    max_notional_per_account: Decimal = Field(default=Decimal("250000000"), gt=0, description="rupees")


class ExecutionEngineConfig(_Strict):
    execution_timeout: int = Field(gt=0, description="seconds")
    enable_websocket: bool
    risk_validation_timeout: int = Field(gt=0, description="seconds")
    max_concurrent_executions: int = Field(gt=0)
    enable_paper_trading: bool
    map_max_concurrency: int = Field(gt=0, le=1000)
    schedule_shards: int = Field(ge=1, le=64)
    lookahead_minutes: int = Field(ge=1, le=5)
    #: the state machine's Map starts this long before execute_at (Prepare's wait_until), so
    #: PlaceOrders' cold start, broker session and HTTPS connection happen before the second;
    #: at least twice the measured cold path (issue 14, BENCHMARKS cold_first_send_ms_lambda_equiv)
    send_lead_seconds: int = Field(default=5, ge=2, le=30, description="seconds")
    archive_retention_days: int = Field(gt=0)
    hot_item_ttl_days: int = Field(gt=0)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)


class MarketDataConfig(_Strict):
    """Where an environment's live prices and day's instrument masters come from: ``account`` is
    ``user_id/client_id`` of a LIVE Zerodha account (its quote API; its ``/instruments`` dump is
    the day's master), or ``"simulator"`` (paper trading only: the engine refuses LIVE accounts).
    The execution-engine stack passes it as ``QL_MARKET_DATA_ACCOUNT``."""

    account: str = Field(pattern=r"^(simulator|[^/\s]+/[^/\s]+)$")
    description: str | None = None

    @property
    def simulator(self) -> bool:
        return self.account == "simulator"


class ProvisionedConcurrencyConfig(_Strict):
    """Provisioned concurrency during market hours (issue 14), per environment: each function
    named in ``functions`` (short name -> instances) gets a ``live`` alias whose provisioned
    concurrency Application Auto Scaling raises to that many at ``from_ist`` and drops to 0 at
    ``to_ist`` on ``days`` (Asia/Kolkata). Off by default: with the Wait's lead at least twice
    the measured cold path, cold starts happen before ``execute_at``; this buys the margin back
    at the cost in BENCHMARKS.md (``cost_provisioned_concurrency_*``)."""

    enabled: bool = False
    functions: dict[str, int] = Field(default_factory=dict)
    from_ist: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    to_ist: str = Field(default="15:35", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days: str = Field(default="MON-FRI", pattern=r"^[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3}(-[A-Z]{3})?)*$")
    description: str | None = None

    @field_validator("functions")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {name: n for name, n in value.items() if not 1 <= n <= 3000}
        if bad:
            raise ValueError(f"provisioned instances must be 1..3000: {bad}")
        return value


class EnvironmentSettings(_Strict):
    removal_policy: Literal["DESTROY", "RETAIN"]
    enable_monitoring: bool
    enable_alarms: bool = False
    market_data: MarketDataConfig
    cors_origins: list[str]
    auth_broker: AuthBrokerConfig
    options_platform: OptionsPlatformConfig
    execution_engine: ExecutionEngineConfig
    provisioned_concurrency: ProvisionedConcurrencyConfig = Field(default_factory=ProvisionedConcurrencyConfig)

    @model_validator(mode="after")
    def _simulator_is_paper_only(self) -> "EnvironmentSettings":
        if self.market_data.simulator and not self.execution_engine.enable_paper_trading:
            raise ValueError("market_data.account 'simulator' is for paper-trading environments only "
                             "(execution_engine.enable_paper_trading is false): name a LIVE Zerodha account")
        return self


class ConfigFile(_Strict):
    company: CompanyConfig
    project: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    aws: AwsConfig
    environments: dict[str, EnvironmentSettings]

    @field_validator("environments")
    @classmethod
    def _known_names(cls, value: dict[str, EnvironmentSettings]) -> dict[str, EnvironmentSettings]:
        unknown = sorted(set(value) - set(ENVIRONMENT_NAMES))
        if unknown:
            raise ValueError(f"unknown environment(s) {unknown}; allowed {list(ENVIRONMENT_NAMES)}")
        return value


class EnvironmentConfig(_Strict):
    """One environment's settings plus the naming rule."""

    name: str
    company: CompanyConfig
    project: str
    region: str
    settings: EnvironmentSettings

    @property
    def prefix(self) -> str:
        """``ql-algo-trading-{env}``."""
        return f"{self.company.short_name}-{self.project}-{self.name}"

    def resource_name(self, resource: str) -> str:
        """``ql-algo-trading-{env}-{resource}``; ``resource`` is kebab-case."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", resource):
            raise ConfigError(f"resource name {resource!r}: use lower-case letters, digits and '-'")
        return f"{self.prefix}-{resource}"

    def stack_name(self, stack: str) -> str:
        """``ql-algo-trading-{env}-{stack}-stack``."""
        return self.resource_name(f"{stack}-stack")

    @property
    def table_name(self) -> str:
        return self.resource_name("trading-configurations")

    @property
    def broker_accounts_table_name(self) -> str:
        return self.resource_name("broker-accounts")

    @property
    def event_bus_name(self) -> str:
        return self.resource_name("events")

    @property
    def strategies_per_event(self) -> int:
        """Strategies per "Strategy Execution Due" event: each brings at most
        ``max_allocations_per_strategy`` PlaceOrders branches, and an inline Map runs at most
        ``map_max_concurrency`` (<= 40, the Step Functions inline Map limit) at once; a branch
        that waits for a free slot would send after its target second."""
        per_strategy = self.settings.options_platform.max_allocations_per_strategy
        return max(1, self.settings.execution_engine.map_max_concurrency // per_strategy)

    @property
    def retain(self) -> bool:
        return self.settings.removal_policy == "RETAIN"


def _format_errors(err: ValidationError, prefix: str = "") -> str:
    parts = []
    for item in err.errors():
        path = ".".join(str(p) for p in item["loc"])
        parts.append(f"{prefix}{path}: {item['msg']}")
    return "; ".join(parts)


def load_config_file(path: Path | str | None = None) -> ConfigFile:
    """Read and validate the whole configuration file.

    Raises:
        ConfigError: file missing, not JSON, or a key missing/invalid (named in the message).
    """
    file = Path(path or os.environ.get("QL_CONFIG_FILE") or CONFIG_FILE)
    try:
        raw = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {file}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from exc
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_format_errors(exc)}") from exc


def load_environment(name: str | None = None, path: Path | str | None = None) -> EnvironmentConfig:
    """Settings of environment ``name`` (default ``$QL_ENV`` or ``dev``).

    Raises:
        ConfigError: unknown environment (the known ones are listed) or an invalid file.
    """
    env_name = name or os.environ.get("QL_ENV") or "dev"
    config = load_config_file(path)
    if env_name not in config.environments:
        raise ConfigError(
            f"environment {env_name!r} is not in environments.json; known: {sorted(config.environments)}"
        )
    return EnvironmentConfig(
        name=env_name,
        company=config.company,
        project=config.project,
        region=config.aws.default_region,
        settings=config.environments[env_name],
    )


@lru_cache(maxsize=8)
def current_environment() -> EnvironmentConfig:
    """The environment selected by ``QL_ENV`` (cached for the life of a Lambda container)."""
    return load_environment()
