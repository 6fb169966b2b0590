"""Execution views and manual runs.

GET /options/executions/schedule (?date=, ?type=entry|exit), GET /options/executions/history
(?strategy_id=, ?from_date=, ?to_date=, ?type=), GET /options/executions/{execution_id} (with its
orders and fills), POST /options/executions/manual, GET /options/positions (?strategy_id=,
?client_id=).

The actions on orders, executions and positions (cancel, modify, close, live positions) are in
:mod:`lambda_functions.options_platform.actions` (their own function: it calls the brokers).

Kill switches (issue 13 / I7): GET /options/kill-switch; PUT /options/kill-switch (the caller's
own, all accounts); PUT /options/kill-switch/accounts/{client_id} (one of the caller's
accounts); PUT /options/kill-switch/global (users of the ADMIN Cognito group only, else 403).
A set switch stops new entries immediately before every send; exits still run.
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
    ErrorBody,
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
from shared_utils.models.execution import KillSwitchState, KillSwitchUpdate, KillSwitchView
from shared_utils.services.executions import ExecutionService, KillSwitchService
from shared_utils.services.options import parse_date
from shared_utils.services.order_actions import position_id

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
                          status=p.status, position_id=position_id(p)) for p in items]
    return PositionList(items=views, total_mtm=str(sum((p.mtm for p in items), Decimal(0))))


def _claims() -> dict:
    context = router.current_event.raw_event.get("requestContext") or {}
    return (context.get("authorizer") or {}).get("claims") or {}


def _caller() -> str:
    """Who is acting, for the record: the Cognito username, else the sub."""
    claims = _claims()
    return str(claims.get("cognito:username") or user_id_of(router))


def _groups() -> list[str]:
    """The caller's Cognito groups (``cognito:groups``: a list, or API Gateway's flattened
    string such as ``"[ADMIN TRADER]"`` or ``"ADMIN,TRADER"``)."""
    raw = _claims().get("cognito:groups") or []
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    return [str(g) for g in raw]


def _kill_switches() -> KillSwitchService:
    return KillSwitchService(repositories(), default_clock())


@router.get("/options/kill-switch", responses=OK_RESPONSES,
            summary="The kill switches that apply to your entries (platform, yours, your accounts')")
def kill_switch_view() -> KillSwitchView:
    return KillSwitchView(**_kill_switches().view(user_id_of(router)))


@router.put("/options/kill-switch", responses=OK_RESPONSES,
            summary="Set or clear your own kill switch: on = no new entries in any of your accounts "
                    "(exits still run); who and when are recorded")
def kill_switch_user(body: KillSwitchUpdate) -> KillSwitchState:
    return KillSwitchState(**_kill_switches().set_user(user_id_of(router), body.on, body.reason, _caller()))


@router.put("/options/kill-switch/accounts/<client_id>", responses=OK_RESPONSES,
            summary="Set or clear the kill switch of one of your broker accounts (exits still run)")
def kill_switch_account(client_id: str, body: KillSwitchUpdate) -> KillSwitchState:
    return KillSwitchState(**_kill_switches().set_account(user_id_of(router), client_id, body.on, body.reason,
                                                          _caller()))


@router.put("/options/kill-switch/global",
            responses={**OK_RESPONSES, 403: {"description": "Only users of the ADMIN group",
                                              "content": {"application/json": {"model": ErrorBody}}}},
            summary="ADMIN only: set or clear the platform kill switch (no new entries for anyone; exits run)")
def kill_switch_global(body: KillSwitchUpdate) -> KillSwitchState:
    user_id_of(router)
    return KillSwitchState(**_kill_switches().set_global(_groups(), body.on, body.reason, _caller()))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
