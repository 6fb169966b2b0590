"""Closed vocabularies of the platform. An unknown value is a validation error.

Each enumeration is a ``StrEnum`` so it serialises as its value ("BUY", "NRML", ...). Broker
adapters translate these into each broker's own codes through one mapping table per broker
(``shared_utils/brokers/mappings``); an unmapped value raises there, it never defaults.
"""

from __future__ import annotations

from enum import StrEnum


class TransactionType(StrEnum):
    """Side of an order or a leg."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> "TransactionType":
        return TransactionType.SELL if self is TransactionType.BUY else TransactionType.BUY


class OptionType(StrEnum):
    """Exchange option type of a contract (Kite ``instrument_type``)."""

    CE = "CE"
    PE = "PE"


class LegType(StrEnum):
    """The seed's ``leg_type``: CALL or PUT. ``option_type`` gives the exchange code."""

    CALL = "CALL"
    PUT = "PUT"

    @property
    def option_type(self) -> OptionType:
        return OptionType.CE if self is LegType.CALL else OptionType.PE


class Product(StrEnum):
    """NRML carries overnight (positional F&O); MIS is intraday and squared off the same day."""

    NRML = "NRML"
    MIS = "MIS"


class OrderType(StrEnum):
    """Kite's order types: SL is stop-loss limit, SL-M stop-loss market."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class ExpiryType(StrEnum):
    """WEEKLY: any listed expiry; MONTHLY: the last listed expiry of a calendar month."""

    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


class EntryBy(StrEnum):
    """How a leg's strike is chosen at entry (``entry_by`` / ``strike_selection_config.method``).

    - ATM_OFFSET: N listed strikes from ATM (+ = towards OTM for the leg's option type).
    - STRIKE_DISTANCE: N index points from ATM (+ = OTM), snapped to a listed strike.
      The seed's ``ATM_DISTANCE`` is accepted as a synonym and stored as STRIKE_DISTANCE.
    - ATM_PERCENT: N percent of spot from ATM (+ = OTM), snapped to a listed strike.
    - STRIKE: a fixed strike.
    - CLOSEST_PREMIUM: the strike whose premium (LTP) is nearest a target in rupees.
    - PREMIUM_GTE / PREMIUM_LTE: nearest-to-ATM strike with premium >= / <= a value.
      (GTE picks the most OTM strike still >= value; LTE the least OTM strike <= value.)
    - PREMIUM_RANGE: a strike whose premium lies in [min, max], the one nearest the middle.
    - DELTA: the strike whose |delta| (Black-76 on its implied volatility) is nearest a target.
    - STRADDLE_WIDTH: ATM strike +/- (multiplier x ATM straddle premium), snapped.
    - ATM_STRADDLE_PERCENT: the strike whose premium is nearest N% of the ATM straddle premium.
    """

    ATM_OFFSET = "ATM_OFFSET"
    STRIKE_DISTANCE = "STRIKE_DISTANCE"
    ATM_PERCENT = "ATM_PERCENT"
    STRIKE = "STRIKE"
    CLOSEST_PREMIUM = "CLOSEST_PREMIUM"
    PREMIUM_GTE = "PREMIUM_GTE"
    PREMIUM_LTE = "PREMIUM_LTE"
    PREMIUM_RANGE = "PREMIUM_RANGE"
    DELTA = "DELTA"
    STRADDLE_WIDTH = "STRADDLE_WIDTH"
    ATM_STRADDLE_PERCENT = "ATM_STRADDLE_PERCENT"


class LegCategory(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    SPREAD = "SPREAD"
    HEDGE = "HEDGE"


class EntityStatus(StrEnum):
    """Status of a basket, strategy or allocation."""

    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ARCHIVED = "ARCHIVED"


class ExecutionType(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"


class ExecutionStatus(StrEnum):
    """Life of one execution (one strategy, one date, ENTRY or EXIT).

    CLAIMED -> IN_PROGRESS -> COMPLETED | PARTIAL | FAILED; SKIPPED when a guard stopped it
    (holiday, kill switch, not executable, risk limit) with the reason recorded.
    """

    SCHEDULED = "SCHEDULED"
    CLAIMED = "CLAIMED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class OrderStatus(StrEnum):
    """The platform's order state machine (see shared_utils.execution.order_state).

    PENDING: intent recorded, not yet sent. SENT: request on the wire, outcome not known.
    OPEN: accepted by the broker, working. PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED as
    usual. UNKNOWN: the send's outcome is not known (timeout after send); only reconciliation
    by tag moves it on, never a blind re-send. NOT_SENT (final): never reached the broker, the
    reason in ``broker_message``.
    """

    PENDING = "PENDING"
    SENT = "SENT"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER_PENDING"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"
    NOT_SENT = "NOT_SENT"


class OrderPurpose(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"
    STOP_LOSS = "STOP_LOSS"
    TARGET = "TARGET"


class Exchange(StrEnum):
    """Derivative segments: NFO (NSE F&O) and BFO (BSE F&O); NSE/BSE for index spot quotes."""

    NFO = "NFO"
    BFO = "BFO"
    NSE = "NSE"
    BSE = "BSE"


class BrokerName(StrEnum):
    ZERODHA = "zerodha"
    ANGEL = "angel"
    FINVASIA = "finvasia"
    ZEBU = "zebu"
    PAPER = "paper"


class TradingMode(StrEnum):
    """PAPER is the default for every account until switched to LIVE."""

    PAPER = "PAPER"
    LIVE = "LIVE"


class AllocationType(StrEnum):
    STRATEGY_LEVEL = "STRATEGY_LEVEL"
    LEG_LEVEL = "LEG_LEVEL"


class Weekday(StrEnum):
    """Canonical weekday names, as the seed's requests send them. MON..SUN are accepted too."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_index(self) -> int:
        """0 for Monday .. 6 for Sunday (``date.weekday()``)."""
        return list(Weekday).index(self)


class PartialFillPolicy(StrEnum):
    """What to do when an entry filled only some legs: leave them, complete the rest, or square
    off the filled legs."""

    LEAVE = "LEAVE"
    COMPLETE = "COMPLETE"
    SQUARE_OFF = "SQUARE_OFF"


class StopLossType(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    POINTS = "POINTS"
