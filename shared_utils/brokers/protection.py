"""Order types real brokers take in 2026: protected market orders and stop-LIMIT stops.

Facts (``shared/reference/indian-markets.md`` "2026 changes"; ``broker-samples/``):

- SL-M is refused on NSE index options (exchange error 16052, since 27 Sep 2021) and BSE has
  discontinued it: a stop on an option is an SL (stop-limit) order whose limit sits a small
  offset beyond the trigger.
- MARKET orders need protection: Kite requires ``market_protection`` on MARKET (and SL-M) from
  1 Apr 2026 (``mappings.zerodha.MARKET_PROTECTION_AUTO``); Shoonya refuses MKT/SL-MKT for API
  orders; so on every broker but Kite a MARKET order is sent as a LIMIT at a protection price
  derived from the LTP.
- The offset is the market-price-protection slab openalgo applies for Noren brokers
  (``broker-samples/noren/api_order_type_restrictions.json``, SECONDARY, 2026-04-06): options
  priced < 10: 5 %, 10-100: 3 %, 100-500: 2 %, > 500: 1 %, at least one tick. A BUY limit is
  rounded DOWN to the tick and a SELL limit UP, so the offset never exceeds the slab (and stays
  inside the brokers' limit-price protection band).

All prices are rupees as ``Decimal``; the tick defaults to 0.05 (index options,
indian-markets.md "Strikes and ticks").
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from shared_utils.brokers.models import OrderRequest
from shared_utils.models.enums import Exchange, OrderType, TransactionType

OPTION_TICK = Decimal("0.05")
#: (upper bound of the price, protection fraction): the openalgo option slab (see module doc).
OPTION_SLAB: tuple[tuple[Decimal | None, Decimal], ...] = (
    (Decimal("10"), Decimal("0.05")),
    (Decimal("100"), Decimal("0.03")),
    (Decimal("500"), Decimal("0.02")),
    (None, Decimal("0.01")),
)
DERIVATIVE_EXCHANGES = frozenset({Exchange.NFO, Exchange.BFO})


def is_option(request: OrderRequest) -> bool:
    """An NFO/BFO option contract (tradingsymbol ends in CE or PE, the format of every broker
    the platform speaks: Kite ``NIFTY2681825000CE``, Angel ``NIFTY18AUG2625000CE``, Noren
    ``NIFTY18AUG26C25000`` is matched by its C/P strike marker)."""
    if request.exchange not in DERIVATIVE_EXCHANGES:
        return False
    sym = request.tradingsymbol.upper()
    if sym.endswith(("CE", "PE")):
        return True
    # Noren: <UNDERLYING><DD><MON><YY><C|P><STRIKE>
    head = sym.rstrip("0123456789.")
    return len(head) < len(sym) and head[-1:] in ("C", "P") and head[-3:-1].isdigit()


def protection_fraction(price: Decimal) -> Decimal:
    """The slab's protection fraction for an option priced ``price`` rupees."""
    for bound, fraction in OPTION_SLAB:
        if bound is None or price < bound:
            return fraction
    raise AssertionError("unreachable")


def _round(value: Decimal, tick: Decimal, up: bool) -> Decimal:
    steps = (value / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * tick).quantize(tick)


def protected_price(reference: Decimal, side: TransactionType, tick: Decimal = OPTION_TICK) -> Decimal:
    """The worst price a protected BUY (above ``reference``) or SELL (below) accepts.

    Offset = slab fraction x reference, at least one tick, rounded toward the reference (never
    wider than the slab). A SELL never goes below one tick. E.g. BUY at 120.50 -> 122.90
    (2 % = 2.41 -> 2.40); SELL at 8.00 -> 7.60 (5 %)."""
    reference = Decimal(reference)
    offset = max(reference * protection_fraction(reference), tick)
    if TransactionType(side) is TransactionType.BUY:
        return max(_round(reference + offset, tick, up=False), _round(reference, tick, up=True) + tick)
    return max(_round(reference - offset, tick, up=True), tick)


def stop_limit_for(request: OrderRequest, tick: Decimal = OPTION_TICK) -> OrderRequest:
    """An SL-M request turned into SL: limit = the protected price beyond the trigger (a SELL
    stop fills down to trigger - offset, a BUY stop up to trigger + offset)."""
    if request.order_type is not OrderType.SL_M:
        return request
    assert request.trigger_price is not None
    limit = protected_price(request.trigger_price, request.transaction_type, tick)
    return replace(request, order_type=OrderType.SL, price=limit)


def market_as_limit(request: OrderRequest, ltp: Decimal, tick: Decimal = OPTION_TICK) -> OrderRequest:
    """A MARKET request turned into a LIMIT at the protected price around ``ltp``."""
    if request.order_type is not OrderType.MARKET:
        return request
    return replace(request, order_type=OrderType.LIMIT, price=protected_price(ltp, request.transaction_type, tick))


def needs_stop_limit(request: OrderRequest) -> bool:
    """True for an SL-M request on an option (refused by NSE 16052 / discontinued on BSE)."""
    return request.order_type is OrderType.SL_M and is_option(request)
