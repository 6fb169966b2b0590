"""Schedule entry: when a strategy runs, indexed by time slot in GSI2 ``ExecutionSchedule``.

One item per strategy and execution type (``SCHEDULE#{strategy_id}#ENTRY`` and ``...#EXIT``).
Only items of ACTIVE strategies in ACTIVE (or no) baskets carry ``gsi2pk``/``gsi2sk``, so one
Query per slot finds exactly what is due (pausing removes the keys; ARCHITECTURE.md fixes the
seed's user-keyed GSI2, which DynamoDB cannot query across users).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from shared_utils.models.common import DomainModel
from shared_utils.models.enums import ExecutionType, Product, Weekday


class ScheduleEntry(DomainModel):
    user_id: str
    strategy_id: str
    basket_id: str | None = None
    execution_type: ExecutionType
    schedule_time: str  # IST HH:MM
    days: list[Weekday]
    dte_min: int | None = None
    dte_max: int | None = None
    underlying: str
    product: Product
    active: bool = True
    entity_type: Literal["SCHEDULE"] = "SCHEDULE"

    def due_on_weekday(self, trade_date: date) -> bool:
        """True when ``trade_date``'s weekday is one of ``days`` (a DTE-only entry has no days
        and defers the decision to the DTE check)."""
        if not self.days:
            return self.dte_min is not None
        return Weekday(list(Weekday)[trade_date.weekday()]) in self.days
