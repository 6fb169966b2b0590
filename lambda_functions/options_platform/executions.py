"""Execution views and manual runs.

GET /options/executions/schedule (?date=, ?type=entry|exit), GET /options/executions/history
(?strategy_id=, ?from_date=, ?to_date=, ?type=), GET /options/executions/{execution_id} (with its
orders and fills), POST /options/executions/manual, GET /options/positions (?strategy_id=,
?client_id=).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import (
    ERROR_RESPONSES,
    OK_RESPONSES,
    build_app,
    logger,
    options_service,
    repositories,
    user_id_of,
)
from shared_utils.accounts.mfa import mfa_responses
from shared_utils.clock import default_clock
from shared_utils.execution.events import default_publisher
from shared_utils.models.api import (
    ExecutionDetail,
    ExecutionList,
    ManualRequest,
    ManualResponse,
    PositionList,
    PositionView,
    ScheduleRow,
    ScheduleView,
)
from shared_utils.models.enums import ExecutionType
from shared_utils.services.executions import ExecutionService
from shared_utils.services.options import parse_date

router = Router()
TypeQuery = Annotated[Literal["entry", "exit", "ENTRY", "EXIT"] | None, Query()]
DateQuery = Annotated[str | None, Query(max_length=10)]


def _service() -> ExecutionService:
    return ExecutionService(repositories(), default_clock(), default_publisher())


@router.get("/options/executions/schedule", responses=OK_RESPONSES,
            summary="What runs for you on a date (IST), from the schedule, with reasons when not due")
def schedule(date: DateQuery = None, type: TypeQuery = None) -> ScheduleView:
    from shared_utils.market.calendar import default_calendar

    service = options_service()
    day = parse_date(date, "date", service.today())
    kind = ExecutionType(type.upper()) if type else None
    rows = service.schedule(user_id_of(router), day, kind)
    return ScheduleView(date=day.isoformat(), trading_day=default_calendar().is_trading_day(day),
                        items=[ScheduleRow(**row) for row in rows])


@router.get("/options/executions/history", responses=OK_RESPONSES,
            summary="Your executions, newest first, with status, reasons and results")
def history(strategy_id: Annotated[str | None, Query(max_length=64)] = None, from_date: DateQuery = None,
            to_date: DateQuery = None, type: TypeQuery = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ExecutionList:
    today = options_service().today()
    start = parse_date(from_date, "from_date", None) if from_date else None
    end = parse_date(to_date, "to_date", today) if to_date else None
    kind = ExecutionType(type.upper()) if type else None
    return ExecutionList(items=_service().history(user_id_of(router), strategy_id, start, end, kind, limit))


@router.post("/options/executions/manual", responses={202: {"description": "Announced"}, **ERROR_RESPONSES,
                                                      **mfa_responses()},
             summary="Run a strategy's entry or exit now, through the same path as a scheduled run")
def manual(body: ManualRequest) -> ManualResponse:
    if body.execution_type.upper() == "ENTRY":
        from lambda_functions.options_platform.common import repositories
        from shared_utils.accounts.mfa import MfaChecker, claims_of, manual_entry_live_accounts

        live = manual_entry_live_accounts(repositories(), user_id_of(router), body.strategy_id)
        if live:
            MfaChecker().check(claims_of(router.current_event.raw_event),
                               f"a manual LIVE entry (accounts {', '.join(live)})")
    result = _service().manual(user_id_of(router), body.strategy_id, ExecutionType(body.execution_type.upper()))
    return ManualResponse(**result), 202


@router.get("/options/executions/<execution_id>", responses=OK_RESPONSES,
            summary="One execution with its orders and fills")
def execution_detail(execution_id: str) -> ExecutionDetail:
    execution, orders = _service().detail(user_id_of(router), execution_id)
    return ExecutionDetail(execution=execution, orders=orders)


@router.get("/options/positions", responses=OK_RESPONSES,
            summary="Positions per strategy, account and contract with MTM and realised P&L (rupees)")
def positions(strategy_id: Annotated[str | None, Query(max_length=64)] = None,
              client_id: Annotated[str | None, Query(max_length=64)] = None) -> PositionList:
    items = _service().positions(user_id_of(router), strategy_id, client_id)
    views = [PositionView(strategy_id=p.strategy_id, client_id=p.client_id, tradingsymbol=p.tradingsymbol,
                          exchange=p.exchange, leg_no=p.leg_no, product=p.product.value, quantity=p.quantity,
                          average_price=str(p.average_price), ltp=str(p.ltp) if p.ltp is not None else None,
                          realised_pnl=str(p.realised_pnl), unrealised_pnl=str(p.unrealised_pnl), mtm=str(p.mtm),
                          status=p.status) for p in items]
    return PositionList(items=views, total_mtm=str(sum((p.mtm for p in items), Decimal(0))))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
