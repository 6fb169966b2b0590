"""Orders, P&L, performance, reports and the day's dashboard (issue 18, read side).

GET /options/orders (?from_date, ?to_date, ?strategy_id, ?client_id, ?status, ?limit, ?cursor),
GET /options/orders/live, GET /options/orders/{order_id}, GET /options/pnl (?from_date,
?to_date), GET /options/pnl/{strategy_id}, GET /options/performance,
GET /options/performance/strategies/{strategy_id}, GET /options/performance/baskets/{basket_id},
GET /options/reports/daily (?date), GET /options/reports/monthly (?month=YYYY-MM) - both as CSV
with ``Accept: text/csv`` - and GET /options/executions/dashboard.

Every route reads the caller's own data only (Cognito ``sub``), through
:mod:`shared_utils.analytics.history` (table, then the archive beyond the hot window).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import (
    OK_RESPONSES,
    build_app,
    logger,
    options_service,
    repositories,
    user_id_of,
)
from shared_utils.analytics.service import AnalyticsService, report_csv
from shared_utils.analytics.views import (
    Dashboard,
    DailyReport,
    MonthlyReport,
    OrderPage,
    OrderView,
    PerformanceView,
    PnlView,
)
from shared_utils.clock import default_clock
from shared_utils.models.enums import OrderStatus
from shared_utils.services.options import parse_date

from shared_utils.marketplace.definitions import definition_aware  # marketplace: subscribed strategies

router = Router()
DateQuery = Annotated[str | None, Query(max_length=10)]
IdQuery = Annotated[str | None, Query(max_length=64)]
def _csv_responses(model: type) -> dict:
    """200 answers JSON (``model``) or, with ``Accept: text/csv``, CSV."""
    return {200: {"description": "OK (JSON; text/csv when the request says Accept: text/csv)",
                  "content": {"application/json": {"model": model}, "text/csv": {"schema": {"type": "string"}}}},
            **{k: v for k, v in OK_RESPONSES.items() if k != 200}}


def _service() -> AnalyticsService:
    return AnalyticsService.for_repos(repositories(), default_clock())


def _range(service: AnalyticsService, from_date: str | None, to_date: str | None):
    start = parse_date(from_date, "from_date", None) if from_date else None
    end = parse_date(to_date, "to_date", None) if to_date else None
    return service.date_range(start, end)


def _wants_csv() -> bool:
    accept = (router.current_event.headers or {}).get("accept") or ""  # case-insensitive in Powertools v3
    return "text/csv" in accept.lower()


def _csv(body: str, filename: str) -> Response:
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=body,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/options/orders", responses=OK_RESPONSES,
            summary="Your orders, newest trade date first, with charges; filters and an opaque cursor")
def list_orders(from_date: DateQuery = None, to_date: DateQuery = None, strategy_id: IdQuery = None,
                client_id: IdQuery = None, status: Annotated[OrderStatus | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=512)] = None) -> OrderPage:
    service = _service()
    start, end = _range(service, from_date, to_date)
    return OrderPage(**service.orders_page(user_id_of(router), start, end, strategy_id=strategy_id,
                                           client_id=client_id, status=status, limit=limit, cursor=cursor))


@router.get("/options/orders/live", responses=OK_RESPONSES,
            summary="Today's orders still working at (or on their way to) the broker")
def live_orders() -> OrderPage:
    return OrderPage(**_service().live_orders(user_id_of(router)))


@router.get("/options/orders/<order_id>", responses=OK_RESPONSES,
            summary="One order with its state history and fills as stored, and its charges")
def order_detail(order_id: str, trade_date: DateQuery = None) -> OrderView:
    """``?trade_date=`` (from the listing) finds an order older than the hot window in the archive."""
    day = parse_date(trade_date, "trade_date", None) if trade_date else None
    return OrderView(**_service().order_detail(user_id_of(router), order_id, day))


@router.get("/options/pnl", responses=OK_RESPONSES,
            summary="Gross, charges and net P&L: total, per day, per account, per strategy")
def pnl(from_date: DateQuery = None, to_date: DateQuery = None) -> PnlView:
    service = _service()
    start, end = _range(service, from_date, to_date)
    return PnlView(**service.pnl(user_id_of(router), start, end))


@router.get("/options/pnl/<strategy_id>", responses=OK_RESPONSES, summary="P&L of one strategy")
def strategy_pnl(strategy_id: str, from_date: DateQuery = None, to_date: DateQuery = None) -> PnlView:
    service = _service()
    user_id = user_id_of(router)
    definition_aware(service.history.repos).strategies.get(user_id, strategy_id)  # 404 when not yours (marketplace: or subscribed)
    start, end = _range(service, from_date, to_date)
    return PnlView(**service.pnl(user_id, start, end, strategy_id))


@router.get("/options/performance", responses=OK_RESPONSES,
            summary="Total and per-day net P&L, win rate, average win/loss, max drawdown, best/worst day, per account")
def performance(from_date: DateQuery = None, to_date: DateQuery = None) -> PerformanceView:
    service = _service()
    start, end = _range(service, from_date, to_date)
    return PerformanceView(**service.performance(user_id_of(router), start, end))


@router.get("/options/performance/strategies/<strategy_id>", responses=OK_RESPONSES,
            summary="Performance of one strategy")
def strategy_performance(strategy_id: str, from_date: DateQuery = None, to_date: DateQuery = None) -> PerformanceView:
    service = _service()
    user_id = user_id_of(router)
    definition_aware(service.history.repos).strategies.get(user_id, strategy_id)  # marketplace: or subscribed
    start, end = _range(service, from_date, to_date)
    return PerformanceView(**service.performance(user_id, start, end, strategy_id=strategy_id))


@router.get("/options/performance/baskets/<basket_id>", responses=OK_RESPONSES,
            summary="Performance of one basket's strategies")
def basket_performance(basket_id: str, from_date: DateQuery = None, to_date: DateQuery = None) -> PerformanceView:
    service = _service()
    start, end = _range(service, from_date, to_date)
    return PerformanceView(**service.performance(user_id_of(router), start, end, basket_id=basket_id))


@router.get("/options/reports/daily", responses=_csv_responses(DailyReport),
            summary="One trading day per account: gross, each charge as billed, net (CSV with Accept: text/csv)")
def daily_report(date: DateQuery = None):  # DailyReport | CSV (see responses)
    service = _service()
    day = parse_date(date, "date", service.today())
    report = service.daily_report(user_id_of(router), day)
    if _wants_csv():
        return _csv(report_csv(report), f"daily-{report['date']}.csv")
    return DailyReport(**report).model_dump(mode="json")


@router.get("/options/reports/monthly", responses=_csv_responses(MonthlyReport),
            summary="One month per day and account: gross, charges, net (CSV with Accept: text/csv)")
def monthly_report(month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None):  # MonthlyReport | CSV
    report = _service().monthly_report(user_id_of(router), month)
    if _wants_csv():
        return _csv(report_csv(report), f"monthly-{report['month']}.csv")
    return MonthlyReport(**report).model_dump(mode="json")


@router.get("/options/executions/dashboard", responses=OK_RESPONSES,
            summary="Today: executions due, running, completed, failed; open positions; MTM; alerts")
def dashboard() -> Dashboard:
    user_id = user_id_of(router)
    service = _service()
    rows = options_service().schedule(user_id, service.today(), None)
    return Dashboard(**service.dashboard(user_id, rows))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
