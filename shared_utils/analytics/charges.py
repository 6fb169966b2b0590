"""Charges on Indian exchange-traded options, per executed order, from dated and sourced rates
(``config/market/charges.json``; every rate there names its circular or broker page).

Per executed order (premium turnover ``T`` = sum of fill quantity x fill price, rupees):

* brokerage: the account's broker plan (Zerodha flat Rs 20; Angel One min(Rs 20, 0.25% of T);
  Finvasia/Zebu: not sourced -> 0 with a warning). Paper orders (broker ``paper``) are charged
  as the plan named in ``brokerage.paper.as``;
* STT: sell side only, rate x T; on exercise, rate x intrinsic value (:meth:`exercise_stt`);
* exchange transaction charge: NSE / BSE rate x T (BSE by underlying);
* IPFT (NSE): rate x T, outside the GST base;
* SEBI turnover fee: rate x T;
* stamp duty: buy side only, rate x T;
* GST: rate x (brokerage + exchange transaction charge + SEBI fee).

Rounding (documented in the config's ``rounding`` block): per-order components are EXACT
Decimals, as Kite's virtual contract note API returns them (e.g. gst ``3.613527``); a contract
note (one account, IST trade date, exchange) sums each component exactly and rounds once,
half-up, to the paisa, STT to the rupee. ``OrderCharges.rounded()`` is the per-order display
value (half-up to the paisa).

Raises :class:`ChargesError` for a trade date before the first sourced rate of a component,
an unknown exchange, or an unknown broker: never a guessed charge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

CHARGES_FILE = Path(__file__).resolve().parents[2] / "config" / "market" / "charges.json"
PAISA = Decimal("0.01")
COMPONENTS = ("brokerage", "stt", "exchange_txn", "ipft", "sebi", "stamp_duty", "gst")
#: exchange code of an order -> exchange whose rates apply (NFO is NSE F&O, BFO is BSE F&O)
EXCHANGE_OF = {"NFO": "NSE", "NSE": "NSE", "BFO": "BSE", "BSE": "BSE"}


class ChargesError(ValueError):
    """No sourced rate for this trade (date before the first row, unknown exchange or broker)."""


def round_half_up(value: Decimal, quantum: Decimal = PAISA) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class OrderCharges:
    """Exact charges of one executed order (rupees, unrounded Decimals)."""

    turnover: Decimal
    side: str
    exchange: str
    brokerage: Decimal
    stt: Decimal
    exchange_txn: Decimal
    ipft: Decimal
    sebi: Decimal
    stamp_duty: Decimal
    gst: Decimal
    warnings: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, c) for c in COMPONENTS), Decimal(0))

    def as_dict(self, rounded: bool = False) -> dict[str, str]:
        """Components and total as strings; ``rounded`` = half-up to the paisa (display)."""
        values = {c: getattr(self, c) for c in COMPONENTS} | {"total": self.total}
        return {k: str(round_half_up(v) if rounded else v) for k, v in values.items()}


@dataclass
class ContractNote:
    """Charges of one contract note (account, IST trade date, exchange), rounded once."""

    orders: int = 0
    exact: dict[str, Decimal] = field(default_factory=lambda: {c: Decimal(0) for c in COMPONENTS})
    warnings: list[str] = field(default_factory=list)
    stt_quantum: Decimal = Decimal(1)
    quantum: Decimal = PAISA

    def add(self, charges: OrderCharges) -> None:
        self.orders += 1
        for c in COMPONENTS:
            self.exact[c] += getattr(charges, c)
        self.warnings += [w for w in charges.warnings if w not in self.warnings]

    @property
    def rounded(self) -> dict[str, Decimal]:
        out = {c: round_half_up(v, self.stt_quantum if c == "stt" else self.quantum) for c, v in self.exact.items()}
        out["total"] = sum(out.values(), Decimal(0))
        return out


class ChargesCalculator:
    """Charges from the rates document (the shape of ``config/market/charges.json``)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        rounding = document["rounding"]
        self.quantum = Decimal(rounding["contract_note_quantum"])
        self.stt_quantum = Decimal(rounding["stt_quantum"])

    # ---- rate lookup --------------------------------------------------------------------
    @staticmethod
    def _row(rows: list[dict[str, Any]], day: date, what: str, underlying: str | None = None) -> dict[str, Any]:
        """The newest row with ``from`` <= ``day``; rows naming ``underlying`` beat generic rows
        (no ``underlyings`` field, or ``"*"``)."""
        def newest(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
            live = [r for r in candidates if date.fromisoformat(r["from"]) <= day]
            return max(live, key=lambda r: r["from"]) if live else None

        specific = [r for r in rows if underlying is not None and underlying in (r.get("underlyings") or [])]
        generic = [r for r in rows if r.get("underlyings") is None or "*" in r["underlyings"]]
        chosen = newest(specific) or newest(generic)
        if chosen is None:
            raise ChargesError(f"no sourced {what} rate for trade date {day.isoformat()}")
        return chosen

    def rate(self, component: str, day: date, exchange: str | None = None, underlying: str | None = None) -> Decimal:
        """The rate (fraction) of a statutory ``component`` on ``day``; per exchange where the
        config splits by exchange (exchange_txn_options, ipft_options)."""
        block = self.doc["statutory"][component]
        rows = block[exchange] if exchange is not None and exchange in block else block.get("rows")
        if rows is None:
            raise ChargesError(f"no {component} rates for exchange {exchange}")
        return Decimal(self._row(rows, day, component, underlying)["rate"])

    def plan_of(self, broker: str) -> str:
        broker = str(broker).lower()
        if broker == "paper":
            return self.doc["brokerage"]["paper"]["as"]
        if broker not in self.doc["brokerage"]["plans"]:
            raise ChargesError(f"no brokerage plan for broker {broker!r}")
        return broker

    def brokerage(self, broker: str, turnover: Decimal, day: date) -> tuple[Decimal, tuple[str, ...]]:
        plan = self.plan_of(broker)
        row = self._row(self.doc["brokerage"]["plans"][plan], day, f"{plan} brokerage")
        spec = row.get("options")
        if spec is None:
            return Decimal(0), (f"brokerage rate for {plan} is not sourced; computed as 0",)
        amounts = []
        if spec.get("flat") is not None:
            amounts.append(Decimal(spec["flat"]))
        if spec.get("percent") is not None:
            amounts.append(turnover * Decimal(spec["percent"]))
        return min(amounts), ()

    # ---- charges ----------------------------------------------------------------------------
    def order_charges(self, *, broker: str, exchange: str, side: str, turnover: Decimal, trade_date: date,
                      tradingsymbol: str = "", underlying: str | None = None) -> OrderCharges:
        """Exact charges of one executed options order of premium ``turnover`` rupees.

        ``exchange``: NFO/NSE or BFO/BSE; ``side``: BUY or SELL; ``underlying`` (or the
        tradingsymbol's prefix) picks the BSE rate (SENSEX/BANKEX vs others).
        """
        venue = EXCHANGE_OF.get(str(exchange).upper())
        if venue is None:
            raise ChargesError(f"no charges for exchange {exchange!r}")
        side = str(side).upper()
        if side not in ("BUY", "SELL"):
            raise ChargesError(f"side {side!r} is not BUY or SELL")
        turnover = Decimal(turnover)
        underlying = underlying or underlying_of(tradingsymbol)
        brokerage, warnings = self.brokerage(broker, turnover, trade_date)
        exchange_txn = turnover * self.rate("exchange_txn_options", trade_date, venue, underlying)
        ipft = turnover * self.rate("ipft_options", trade_date, venue)
        sebi = turnover * self.rate("sebi_fee", trade_date)
        stt = turnover * self.rate("stt_options_sell", trade_date) if side == "SELL" else Decimal(0)
        stamp = turnover * self.rate("stamp_duty_options_buy", trade_date) if side == "BUY" else Decimal(0)
        gst = (brokerage + exchange_txn + sebi) * self.rate("gst", trade_date)
        return OrderCharges(turnover=turnover, side=side, exchange=venue, brokerage=brokerage, stt=stt,
                            exchange_txn=exchange_txn, ipft=ipft, sebi=sebi, stamp_duty=stamp, gst=gst,
                            warnings=warnings)

    def exercise_stt(self, intrinsic_value: Decimal, trade_date: date) -> Decimal:
        """STT on long options exercised at expiry: rate x intrinsic value (rupees, exact)."""
        return Decimal(intrinsic_value) * self.rate("stt_options_exercise", trade_date)

    def contract_note(self, charges: Iterable[OrderCharges] = ()) -> ContractNote:
        note = ContractNote(stt_quantum=self.stt_quantum, quantum=self.quantum)
        for c in charges:
            note.add(c)
        return note


def underlying_of(tradingsymbol: str) -> str | None:
    """Index underlying named by an options trading symbol (longest known prefix), else None."""
    symbol = (tradingsymbol or "").upper()
    for name in ("SENSEX50", "MIDCPNIFTY", "NIFTYNXT50", "BANKNIFTY", "FINNIFTY", "SENSEX", "BANKEX", "NIFTY"):
        if symbol.startswith(name):
            return name
    return None


@lru_cache(maxsize=1)
def default_calculator() -> ChargesCalculator:
    """The calculator over ``config/market/charges.json``."""
    return ChargesCalculator(json.loads(CHARGES_FILE.read_text()))
