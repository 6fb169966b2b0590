"""Sane size (issue 13 / invariant I8): the platform's size limits and the risk fields the
models accept, checked where a trader can still fix them (the API, 422 naming the field and the
limit) and again at Resolve (the engine plans nothing for an account that breaks one).

Limits (``execution_engine.limits`` in config/environments.json, :class:`LimitsConfig`):
lots per leg per account, units per leg per account before freeze slicing, and notional per
account per execution ((strike + premium) x quantity, NSE's notional value of options; only at
Resolve, where the strike is known).

Risk fields:

- ``leg.position_sizing.max_lots``: ENFORCED, like ``max_lots_per_leg`` but per leg.
- ``allocation.risk_limits.max_daily_loss``: ENFORCED at Resolve: no new entry in an account
  whose loss today on the strategy (realised + unrealised P&L of its positions touched today,
  rupees) has reached the limit.
- ``allocation.risk_limits.max_margin_utilization`` (percent; the seed's journey sends it):
  ENFORCED by PlaceOrders before the sleep when the account's broker client reports its margin
  (an optional ``margins() -> {"used": Decimal, "available": Decimal}``): utilization =
  used / (used + available) x 100 at or above the limit -> the account's entries are NOT_SENT.
  A client that reports no margin cannot be checked: the execution's reasons say so (never
  silently).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

from shared_utils.config import LimitsConfig

Problem = tuple[tuple, str]


def lots_problems(limits: LimitsConfig, lots: int, max_lots: int | None, loc: tuple, what: str) -> list[Problem]:
    """``lots`` of one leg in one account against the platform limit and the leg's own
    ``position_sizing.max_lots``."""
    problems: list[Problem] = []
    if lots > limits.max_lots_per_leg:
        problems.append((loc, f"{what}: {lots} lots exceed the platform limit max_lots_per_leg "
                              f"({limits.max_lots_per_leg})"))
    if max_lots is not None and lots > max_lots:
        problems.append((loc, f"{what}: {lots} lots exceed the leg's position_sizing.max_lots ({max_lots})"))
    return problems


def units_problems(limits: LimitsConfig, lots: int, lot_size: int | None, loc: tuple, what: str) -> list[Problem]:
    """Units (lots x lot size) of one leg in one account before slicing."""
    if not lot_size:
        return []
    units = lots * lot_size
    if units > limits.max_units_per_order:
        return [(loc, f"{what}: {lots} lots x lot size {lot_size} = {units:,} units exceed the platform limit "
                      f"max_units_per_order ({limits.max_units_per_order:,})")]
    return []


def allocation_problems(limits: LimitsConfig, legs: Iterable[Any], allocation: Any, loc: tuple,
                        lot_size: Callable[[Any], int | None]) -> list[Problem]:
    """Each leg's lots in the account of ``allocation`` (an Allocation or AllocationSpec) against
    the limits; ``loc`` points at the allocation's body, the problem names the field that sets
    the lots (the override or the multiplier). ``lot_size(leg)`` may return None (unknown)."""
    problems: list[Problem] = []
    config = allocation.allocation_config
    for leg in sorted(legs, key=lambda l: l.leg_no):
        if config.type.value == "LEG_LEVEL":
            override = (config.leg_overrides or {}).get(str(leg.leg_no))
            if override is None or not override.enabled or not leg.enabled:
                continue
            lots, field = override.lots, loc + ("allocation_config", "leg_overrides", str(leg.leg_no), "lots")
        else:
            if not leg.enabled:
                continue
            lots = leg.lots * int(config.strategy_lots_multiplier or 1)
            field = loc + ("allocation_config", "strategy_lots_multiplier")
        what = f"leg {leg.leg_no} in {allocation.client_id}"
        max_lots = leg.position_sizing.max_lots if getattr(leg, "position_sizing", None) else None
        problems += lots_problems(limits, lots, max_lots, field, what)
        problems += units_problems(limits, lots, lot_size(leg), field, what)
    return problems


def leg_problems(limits: LimitsConfig, leg: Any, loc: tuple, lot_size: int | None) -> list[Problem]:
    """A leg's own ``lots`` against the limits (before any allocation multiplies it)."""
    max_lots = leg.position_sizing.max_lots if getattr(leg, "position_sizing", None) else None
    what = f"leg {leg.leg_no}"
    return lots_problems(limits, leg.lots, max_lots, loc + ("lots",), what) + \
        units_problems(limits, leg.lots, lot_size, loc + ("lots",), what)


def notional_problem(limits: LimitsConfig, client_id: str, orders: Iterable[Any],
                     strikes: dict[int, Decimal]) -> str | None:
    """Notional of one account's planned orders: (strike + premium) x quantity summed (rupees);
    ``strikes`` by leg_no; premium = the order's limit price, else its LTP."""
    total = Decimal(0)
    for order in orders:
        premium = Decimal(order.price or order.ltp or 0)
        total += (strikes.get(order.leg_no, Decimal(0)) + premium) * order.quantity
    if total > limits.max_notional_per_account:
        return (f"{client_id}: notional Rs {total:,.2f} ((strike + premium) x quantity) exceeds the platform limit "
                f"max_notional_per_account Rs {limits.max_notional_per_account:,.2f}")
    return None


def daily_loss(positions: Iterable[Any], trade_date: date, to_local: Callable[[datetime], datetime]) -> Decimal:
    """Loss (positive rupees) today of a strategy in one account: minus the MTM (realised +
    unrealised) of its positions updated on ``trade_date`` (IST)."""
    mtm = sum((p.mtm for p in positions if to_local(p.updated_at).date() == trade_date), Decimal(0))
    return max(Decimal(0), -mtm)
