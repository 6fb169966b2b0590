"""Typed commands and reports of the broker layer (frozen dataclasses).

Units: quantities are UNITS (contracts x lot size), never lots. Prices are rupees as
``Decimal`` on the contract's tick. Datetimes are timezone-aware; broker timestamps are IST
wall clock and are returned as ``Asia/Kolkata`` aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared_utils.clock import require_aware
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


def to_decimal(value: Any) -> Decimal | None:
    """Broker number (float/str/int/None/"") -> Decimal via ``str`` (no binary float noise)."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class InstrumentRef:
    """A contract to quote: exchange + tradingsymbol; ``token`` is the broker's instrument token
    (Angel ``symboltoken`` / Noren ``token``; needed there, ignored by Kite)."""

    exchange: Exchange
    tradingsymbol: str
    token: str | None = None

    @property
    def key(self) -> str:
        """``"NFO:NIFTY2681825000CE"``, the key of ``ltp()``/``quotes()`` results."""
        return f"{Exchange(self.exchange).value}:{self.tradingsymbol}"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Command: place one order.

    Attributes:
        quantity: units (lots x lot size), > 0.
        price: limit price in rupees (LIMIT, SL); ``None`` for MARKET / SL-M.
        trigger_price: rupees, required for SL and SL-M.
        tag: platform order tag (``keys.order_tag``), <= 20 alphanumerics; sent as Kite ``tag``,
            Angel ``ordertag``, Noren ``remarks``.
        symboltoken: broker instrument token (Angel requires it; Noren uses it for quotes).
        validity: ``"DAY"`` or ``"IOC"``.

    Raises:
        ValueError: inconsistent fields (missing price for LIMIT, trigger for SL, ...).
    """

    exchange: Exchange
    tradingsymbol: str
    transaction_type: TransactionType
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    tag: str | None = None
    symboltoken: str | None = None
    validity: str = "DAY"

    def __post_init__(self) -> None:
        object.__setattr__(self, "exchange", Exchange(self.exchange))
        object.__setattr__(self, "transaction_type", TransactionType(self.transaction_type))
        object.__setattr__(self, "product", Product(self.product))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        if isinstance(self.quantity, bool) or int(self.quantity) != self.quantity or self.quantity <= 0:
            raise ValueError(f"quantity must be a positive integer number of units, got {self.quantity!r}")
        for name in ("price", "trigger_price"):
            val = getattr(self, name)
            if val is not None:
                if isinstance(val, float):
                    raise ValueError(f"{name} must be Decimal (or str), not float")
                val = Decimal(val)
                if val <= 0:
                    raise ValueError(f"{name} must be > 0, got {val}")
                object.__setattr__(self, name, val)
        if self.order_type in (OrderType.LIMIT, OrderType.SL) and self.price is None:
            raise ValueError(f"{self.order_type} order needs a price")
        if self.order_type in (OrderType.MARKET, OrderType.SL_M) and self.price is not None:
            raise ValueError(f"{self.order_type} order takes no price")
        if self.order_type in (OrderType.SL, OrderType.SL_M) and self.trigger_price is None:
            raise ValueError(f"{self.order_type} order needs a trigger_price")
        if self.order_type in (OrderType.MARKET, OrderType.LIMIT) and self.trigger_price is not None:
            raise ValueError(f"{self.order_type} order takes no trigger_price")
        if self.tag is not None and (len(self.tag) > 20 or not self.tag.isalnum()):
            raise ValueError(f"tag must be <= 20 alphanumerics, got {self.tag!r}")
        if self.validity not in ("DAY", "IOC"):
            raise ValueError(f"validity must be DAY or IOC, got {self.validity!r}")


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    """Command: change a working order. ``None`` fields keep the order's current value.

    ``quantity`` in units; prices in rupees (Decimal).
    """

    order_id: str
    quantity: int | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    order_type: OrderType | None = None


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The broker accepted the request and named the order.

    ``received_at`` is when the adapter got the answer (aware, UTC). ``raw`` is the envelope.
    Acceptance is not a fill: RMS may still reject (see ``order_status``).
    """

    order_id: str
    tag: str | None
    broker: str
    received_at: datetime
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order as the broker reports it.

    Quantities in units; prices in rupees (Decimal, ``None`` when not applicable / zero for
    MARKET); ``average_price`` is the volume-weighted fill price (``None`` until a fill).
    ``message`` is what the broker said (rejection reason, status message). ``placed_at`` /
    ``updated_at`` are aware (IST for broker times).
    """

    order_id: str
    tag: str | None
    status: OrderStatus
    quantity: int
    filled_quantity: int
    pending_quantity: int
    average_price: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    tradingsymbol: str
    exchange: Exchange
    transaction_type: TransactionType
    product: Product
    order_type: OrderType
    message: str | None = None
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("placed_at", "updated_at"):
            val = getattr(self, name)
            if val is not None:
                require_aware(val, name)

    @property
    def is_terminal(self) -> bool:
        """FILLED, CANCELLED or REJECTED: the order will not change any more."""
        return self.status in _TERMINAL


@dataclass(frozen=True, slots=True)
class PositionReport:
    """Net position of one contract and product.

    ``quantity`` signed units (+ long, - short); ``average_price`` rupees of the open quantity;
    ``ltp`` last price (rupees); P&L in rupees (Decimal).
    """

    tradingsymbol: str
    exchange: Exchange
    product: Product
    quantity: int
    average_price: Decimal
    ltp: Decimal | None
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and last price of one instrument (rupees; quantities in units)."""

    exchange: Exchange
    tradingsymbol: str
    ltp: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_qty: int | None = None
    ask_qty: int | None = None
    timestamp: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BrokerInstrument:
    """One row of a broker's instrument master: lot size (units per lot), tick size (rupees)."""

    exchange: Exchange
    tradingsymbol: str
    token: str
    lot_size: int
    tick_size: Decimal
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
