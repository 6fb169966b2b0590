"""A trader's actions on live orders, executions and positions (issue 18; seed 000 story #26,
seed 001's execution-engine API), served by their own function because they call the brokers
(the engine's clients, rate limiters and egress route, like the market function):

- POST /options/orders/{order_id}/cancel: cancel a working order (allowed under a kill switch);
- POST /options/orders/{order_id}/modify: body ``{"price"?, "trigger_price"?, "quantity"?}``
  (JSON numbers; at least one), within the broker's modify rules; a change that increases risk
  is refused while a kill switch is on;
- POST /options/executions/{execution_id}/cancel: a pending execution sends nothing (409 once
  sending started);
- POST /options/positions/{position_id}/close: one position closed through the exit path (its
  stop cancelled first, a protected order, never a long that hedges an open short), recorded as
  a manual close;
- GET /options/positions/live (?strategy_id=): open positions with LTP, MTM and the stop at the
  broker;
- GET /options/audit (?limit=): the caller's actions as recorded, newest first.

Refusals are 409 with the reason (``message``, ``reasons``); an unreachable broker 503; an id
that is not the caller's 404. Every action leaves an audit item (who, when, what, the broker's
answer). Logic: :mod:`shared_utils.services.order_actions`.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import OK_RESPONSES, build_app, logger, repositories, user_id_of
from shared_utils.models.api import ErrorBody
from shared_utils.models.order_actions import (
    AuditEntry,
    AuditTrail,
    ExecutionCancelResult,
    LivePositions,
    ModifyOrderRequest,
    OrderActionResult,
    PositionCloseResult,
)
from shared_utils.services.order_actions import BrokerUnreachable, ModifyChange, OrderActions, default_actions

router = Router()


def _actions() -> OrderActions:
    """The service over the API's engine context, acting on the handler's repositories."""
    return default_actions(repositories())


def _caller() -> str:
    """Who is acting, for the audit trail: the Cognito username, else the sub."""
    context = router.current_event.raw_event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    return str(claims.get("cognito:username") or user_id_of(router))


#: 503: the broker or the account's session could not be reached (the reason is in message)
ACTION_RESPONSES = {**OK_RESPONSES, 503: {"description": "Broker unreachable (the reason is in message); nothing "
                                                         "changed as far as the platform knows",
                                          "content": {"application/json": {"model": ErrorBody}}}}


@router.get("/options/positions/live", responses=ACTION_RESPONSES,
            summary="Open positions now: LTP, MTM and each one's stop as the broker reports it")
def positions_live(strategy_id: Annotated[str | None, Query(max_length=64)] = None) -> LivePositions:
    return LivePositions(**_actions().live_positions(user_id_of(router), strategy_id))


@router.post("/options/orders/<order_id>/cancel", responses=ACTION_RESPONSES,
             summary="Cancel a working order at the broker (allowed under a kill switch); 409 with the reason "
                     "when final, not at the broker yet, or of a running execution step")
def cancel_order(order_id: str) -> OrderActionResult:
    return OrderActionResult(**_actions().cancel_order(user_id_of(router), order_id, _caller()))


@router.post("/options/orders/<order_id>/modify", responses=ACTION_RESPONSES,
             summary="Change a working order's price, trigger or quantity within the broker's rules; a change "
                     "that increases risk is refused while a kill switch is on")
def modify_order(order_id: str, body: ModifyOrderRequest) -> OrderActionResult:
    change = ModifyChange(price=body.price, trigger_price=body.trigger_price, quantity=body.quantity)
    return OrderActionResult(**_actions().modify_order(user_id_of(router), order_id, change, _caller()))


@router.post("/options/executions/<execution_id>/cancel", responses=ACTION_RESPONSES,
             summary="Cancel a pending execution: nothing of it will be sent; 409 once sending started")
def cancel_execution(execution_id: str) -> ExecutionCancelResult:
    return ExecutionCancelResult(**_actions().cancel_execution(user_id_of(router), execution_id, _caller()))


@router.post("/options/positions/<position_id>/close", responses=ACTION_RESPONSES,
             summary="Close one position now through the exit path (its stop cancelled first, a protected "
                     "order, shorts before longs), recorded as a manual exit; allowed under a kill switch")
def close_position(position_id: str) -> PositionCloseResult:
    return PositionCloseResult(**_actions().close_position(user_id_of(router), position_id, _caller()))


@router.get("/options/audit", responses=OK_RESPONSES,
            summary="Your actions on orders, executions and positions, newest first: who, when, what, the broker's answer")
def audit(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditTrail:
    items = _actions().audit_trail(user_id_of(router), limit)
    return AuditTrail(items=[AuditEntry(**{k: item.get(k, "") for k in AuditEntry.model_fields}) for item in items])


app = build_app(router)


@app.exception_handler(BrokerUnreachable)
def _broker_unreachable(exc: BrokerUnreachable) -> Response:
    return Response(status_code=503, content_type=content_types.APPLICATION_JSON,
                    body={"statusCode": 503, "message": str(exc)})


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
