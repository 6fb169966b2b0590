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
