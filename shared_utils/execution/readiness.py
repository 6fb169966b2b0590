"""Is a strategy executable? The same answer for the REST API (``executable`` with reasons) and
the emitter (which skips a non-executable strategy and records why).

A strategy is executable when it has at least one enabled leg, every enabled leg can be resolved
to a strike (its selection method has its value: the seed's ``entry_by: DELTA`` without a delta
is not), every leg trades the strategy's underlying, WEEKLY legs are on an index that lists
weeklies on ``on_date``, and at least one ACTIVE allocation gives some leg a positive number of
lots.
"""

from __future__ import annotations

from datetime import date

from shared_utils.models.allocation import Allocation
from shared_utils.models.enums import EntityStatus, ExpiryType
from shared_utils.models.leg import Leg
from shared_utils.models.strategy import Strategy


def executability_problems(strategy: Strategy, legs: list[Leg], allocations: list[Allocation],
                           on_date: date) -> list[str]:
    """Reasons the strategy cannot run on ``on_date`` (IST trade date); empty = executable."""
    from shared_utils.market.expiry import has_weeklies

    problems: list[str] = []
    enabled = [leg for leg in legs if leg.enabled]
    if not legs:
        problems.append("no legs: add at least one leg")
    elif not enabled:
        problems.append("every leg is disabled")
    for leg in enabled:
        for missing in leg.missing_values():
            problems.append(
                f"leg {leg.leg_no}: entry_by {leg.entry_by.value} needs {missing} (the strike cannot be chosen without it)"
            )
        if leg.underlying != strategy.underlying:
            problems.append(f"leg {leg.leg_no}: underlying {leg.underlying} differs from the strategy's {strategy.underlying}")
        if leg.expiry_type is ExpiryType.WEEKLY and not has_weeklies(leg.underlying, on_date):
            problems.append(f"leg {leg.leg_no}: {leg.underlying} lists no weekly options; use MONTHLY")
    active = [a for a in allocations if a.status is EntityStatus.ACTIVE]
    if not active:
        problems.append("no active allocation: allocate the strategy to at least one broker account")
    elif enabled and not any(a.lots_for_leg(leg.leg_no, leg.lots) for a in active for leg in enabled):
        problems.append("the allocations give every enabled leg 0 lots")
    return problems


def schedule_warnings(strategy: Strategy, legs: list[Leg], on_date: date, horizon_days: int = 14) -> list[str]:
    """Things a trader should know that do not stop the strategy from running.

    Today: an NRML strategy whose next exit falls AFTER its legs' expiry (the seed's own iron
    condor enters Monday on the weekly that expires Tuesday, and exits Friday): the contracts
    are settled by the exchange at expiry, and the scheduled exit has nothing left to square
    off. Checked for the next entry day within ``horizon_days`` of ``on_date`` (IST).
    """
    from datetime import timedelta

    from shared_utils.market.errors import MarketError
    from shared_utils.market.expiry import resolve_expiry
    from shared_utils.services.market_data import instrument_master

    if strategy.is_intra_day or not strategy.entry_days or not strategy.exit_days:
        return []
    entry_days = {d.iso_index for d in strategy.entry_days}
    exit_days = {d.iso_index for d in strategy.exit_days}
    entry = next((on_date + timedelta(days=i) for i in range(horizon_days)
                  if (on_date + timedelta(days=i)).weekday() in entry_days), None)
    if entry is None:
        return []
    exit_date = next((entry + timedelta(days=i) for i in range(0, 8)
                      if (entry + timedelta(days=i)).weekday() in exit_days
                      and (i > 0 or strategy.exit_time > strategy.entry_time)), None)
    if exit_date is None:
        return []
    warnings = []
    try:
        master = instrument_master()
    except Exception:  # noqa: BLE001 - no master: the dated rules still answer
        master = None
    for leg in legs:
        if not leg.enabled:
            continue
        try:
            expiry = resolve_expiry(master, leg.underlying, leg.expiry_type, leg.expiry_offset, entry)
        except MarketError:
            try:  # the master does not list that far ahead: the dated rule answers (a warning only)
                expiry = resolve_expiry(None, leg.underlying, leg.expiry_type, leg.expiry_offset, entry)
            except MarketError:
                continue
        if expiry < exit_date:
            warnings.append(
                f"leg {leg.leg_no}: entered {entry.strftime('%a %d %b')} on the {leg.expiry_type.value.lower()} expiring "
                f"{expiry.strftime('%a %d %b')}, but the exit is {exit_date.strftime('%a %d %b')}: the exchange settles "
                "it at expiry and the exit finds nothing to square off")
    return warnings
