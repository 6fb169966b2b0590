"""Execution views: GET /options/executions/schedule (?date=YYYY-MM-DD, ?type=entry|exit).

(History, manual runs, positions and execution detail join this family with the engine.)
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import ERROR_RESPONSES, OK_RESPONSES, build_app, logger, options_service, user_id_of
from shared_utils.models.api import ScheduleRow, ScheduleView
from shared_utils.models.enums import ExecutionType
from shared_utils.services.options import parse_date

router = Router()


@router.get("/options/executions/schedule", responses=OK_RESPONSES,
            summary="What runs for you on a date (IST), from the schedule, with reasons when not due")
def schedule(date: Annotated[str | None, Query(max_length=10)] = None,
             type: Annotated[Literal["entry", "exit", "ENTRY", "EXIT"] | None, Query()] = None) -> ScheduleView:
    from shared_utils.market.calendar import default_calendar

    service = options_service()
    day = parse_date(date, "date", service.today())
    kind = ExecutionType(type.upper()) if type else None
    rows = service.schedule(user_id_of(router), day, kind)
    return ScheduleView(date=day.isoformat(), trading_day=default_calendar().is_trading_day(day),
                        items=[ScheduleRow(**row) for row in rows])


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
