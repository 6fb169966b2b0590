"""The ONE query module of the analytics routes: a user's orders, executions and positions over an IST trade-date range, from the hot table for recent days and from the
Parquet archive beyond the hot window. No route reads the archive's files itself.

Window (same rule as :mod:`shared_utils.archive.history`): on IST date ``T`` with hot window
``H`` days (``execution_engine.hot_item_ttl_days``), trade dates after ``T - H`` are always in
the table; trade dates up to ``T - H`` may have expired from it and are read from the archive
(one listing, then one GET per archived day). A record in both answers with the table's copy
(it may be newer: a late postback). Without an archive bucket (local platform, tests without
S3) only the table is read.

Orders of a trade date are the orders whose ``execution_id`` carries that date
(:func:`~shared_utils.persistence.keys.parse_execution_id`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from shared_utils.archive.history import HistoryArchive, history_archive_from_environment
from shared_utils.clock import Clock, to_ist
from shared_utils.models.enums import ExecutionType
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound, Repositories


def trade_date_of(order: OrderRecord) -> date:
    """IST trade date of an order (from its execution id)."""
    return keys.parse_execution_id(order.execution_id)[1]


def _strategy_of(order: OrderRecord) -> str:
    return keys.parse_execution_id(order.execution_id)[0]


class TradingHistory:
    """Reads for one environment: ``repos`` (table), ``clock`` (today, IST), ``archive`` (the
    Parquet archive; by default the one named by ``ARCHIVE_BUCKET_NAME``, none when unset)."""

    def __init__(self, repos: Repositories, clock: Clock, archive: HistoryArchive | None = None) -> None:
        self.repos = repos
        self.clock = clock
        self._archive = archive

    @property
    def archive(self) -> HistoryArchive | None:
        if self._archive is None:
            self._archive = history_archive_from_environment()
        return self._archive

    def today(self) -> date:
        return to_ist(self.clock.now()).date()

    # ---- orders -------------------------------------------------------------------------
    def orders(self, user_id: str, start: date, end: date, strategy_id: str | None = None) -> list[OrderRecord]:
        """``user_id``'s orders with trade dates in ``[start, end]`` (optionally one strategy),
        in key order (strategy, date, execution, account, leg, purpose, slice)."""
        found: dict[str, OrderRecord] = {}
        for item in self.repos.orders.table.query_all(user_id, keys.user_orders_prefix(strategy_id)):
            order = OrderRecord.model_validate(item)
            try:
                day = trade_date_of(order)
            except ValueError:
                continue
            if start <= day <= end and (strategy_id is None or _strategy_of(order) == strategy_id):
                found[order.order_key] = order
        for order in self._archived("orders", start, end):
            if order.user_id == user_id and order.order_key not in found \
                    and (strategy_id is None or _strategy_of(order) == strategy_id):
                found[order.order_key] = order
        return sorted(found.values(), key=lambda o: o.order_key)

    def order_by_id(self, user_id: str, order_id: str, trade_date: date | None = None) -> OrderRecord:
        """One order by its public id (the platform's broker tag), ``user_id``'s only: from the
        table (OrdersByTag index), else, when ``trade_date`` is given, from that archived day.

        Raises:
            NotFound: no such order, or another user's.
        """
        try:
            keys.check_id(order_id, "order_id")
        except ValueError as exc:
            raise NotFound(f"order {order_id} not found") from exc
        order = self.repos.orders.by_tag(order_id)
        if order is not None and order.user_id == user_id:
            # the index copy is eventually consistent: read the item itself
            return self.repos.orders.get(user_id, order.order_key)
        if order is None and trade_date is not None:
            for archived in self._archived("orders", trade_date, trade_date):
                if archived.tag == order_id and archived.user_id == user_id:
                    return archived
        raise NotFound(f"order {order_id} not found")

    # ---- executions ---------------------------------------------------------------------
    def executions(self, user_id: str, start: date, end: date, strategy_id: str | None = None) -> list[Execution]:
        """``user_id``'s executions (entry and exit) with trade dates in ``[start, end]``."""
        found: dict[str, Execution] = {}
        for kind in ExecutionType:
            token = None
            while True:
                page = self.repos.executions.list_for_user(user_id, kind, strategy_id, limit=200, next_token=token)
                for e in page.items:
                    if start <= e.trade_date <= end:
                        found[e.execution_id] = e
                token = page.next_token
                if not token:
                    break
        archive = self.archive
        if archive is not None:
            for e in archive.executions(user_id, start, end, self.today(), strategy_id=strategy_id):
                found.setdefault(e.execution_id, e)
        return sorted(found.values(), key=lambda e: (e.execute_at, e.execution_id))

    # ---- live state ---------------------------------------------------------------------
    def positions(self, user_id: str, strategy_id: str | None = None, client_id: str | None = None) -> list[Position]:
        """Current positions (live state, table only)."""
        return self.repos.positions.list(user_id, strategy_id, client_id)

    def strategy_ids_of_basket(self, user_id: str, basket_id: str) -> set[str]:
        """Strategy ids of a basket (raises NotFound when the basket is not ``user_id``'s)."""
        self.repos.baskets.get(user_id, basket_id)
        return {s.strategy_id for s in self.repos.strategies.list_all(user_id, basket_id)}

    def alerts(self, user_id: str) -> list[dict[str, Any]]:
        """Kill switches in force for ``user_id`` (global and per user), as alert rows."""
        rows = []
        for scope, who in (("GLOBAL", None), ("USER", user_id)):
            on, reason = self.repos.controls.kill_switch(who)
            if on:
                rows.append({"kind": "KILL_SWITCH", "scope": scope, "message": reason})
        return rows

    # ---- archive ------------------------------------------------------------------------
    def _archived(self, entity: str, start: date, end: date) -> list[Any]:
        archive = self.archive
        if archive is None:
            return []
        last = min(end, archive.archive_until(self.today()))
        if start > last:
            return []
        from shared_utils.archive.reader import archived_days, read_day

        days = archived_days(archive.s3, archive.bucket, entity, start, last)
        with ThreadPoolExecutor(max_workers=archive.workers) as pool:
            per_day = list(pool.map(lambda d: read_day(archive.s3, archive.bucket, entity, d) or [], days))
        return [record for records in per_day for record in records]
