"""Strategies and their legs.

Strategies: GET /options/strategies (?basket_id=), GET/POST /options/baskets/{basket_id}/strategies,
POST /options/strategies (standalone), GET/PUT/DELETE /options/strategies/{strategy_id},
POST .../activate, POST .../pause.
Legs: GET/POST (bulk) /options/strategies/{strategy_id}/legs, GET/PUT/DELETE .../legs/{leg_no}.
Another user's (or an unknown) basket, strategy or leg answers 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import ERROR_RESPONSES, OK_RESPONSES, build_app, created, logger, options_service, user_id_of
from shared_utils.accounts.mfa import MfaChecker, claims_of, manual_entry_live_accounts, mfa_responses
from shared_utils.models.api import LegList, Message, StrategyDetail, StrategyList
from shared_utils.models.enums import EntityStatus
from shared_utils.models.leg import Leg, LegsCreate, LegUpdate
from shared_utils.models.strategy import Strategy, StrategySpec, StrategyUpdate

router = Router()
CREATED = {201: {"description": "Created"}, **ERROR_RESPONSES, **mfa_responses()}
GATED = {**OK_RESPONSES, **mfa_responses()}


def _require_mfa_if_live(strategy_id: str, action: str) -> None:
    """MFA when the strategy trades LIVE (an ACTIVE allocation to a LIVE account): adding legs,
    raising a leg's lots and activating it raise the size sent (shared_utils.accounts.mfa)."""
    from lambda_functions.options_platform.common import repositories

    live = manual_entry_live_accounts(repositories(), user_id_of(router), strategy_id)
    if live:
        MfaChecker().check(claims_of(router.current_event.raw_event), f"{action} (LIVE accounts {', '.join(live)})")
LegNo = Annotated[int, Path(ge=1, le=99)]


@router.get("/options/strategies", responses=OK_RESPONSES, summary="List your strategies")
def list_strategies(basket_id: Annotated[str | None, Query(max_length=64)] = None) -> StrategyList:
    return StrategyList(items=options_service().list_strategies(user_id_of(router), basket_id))


@router.get("/options/baskets/<basket_id>/strategies", responses=OK_RESPONSES, summary="The strategies of a basket")
def list_basket_strategies(basket_id: str) -> StrategyList:
    return StrategyList(items=options_service().list_basket_strategies(user_id_of(router), basket_id))


@router.post("/options/baskets/<basket_id>/strategies", responses=CREATED, summary="Create a strategy in a basket")
def create_strategy_in_basket(basket_id: str, body: StrategySpec) -> Strategy:
    return created(options_service().create_strategy(user_id_of(router), basket_id, body))


@router.post("/options/strategies", responses=CREATED, summary="Create a standalone strategy")
def create_strategy(body: StrategySpec) -> Strategy:
    return created(options_service().create_strategy(user_id_of(router), None, body))


@router.get("/options/strategies/<strategy_id>", responses=OK_RESPONSES,
            summary="A strategy with its legs, allocations and executability")
def get_strategy(strategy_id: str) -> StrategyDetail:
    return StrategyDetail(**options_service().strategy_detail(user_id_of(router), strategy_id))


@router.put("/options/strategies/<strategy_id>", responses=OK_RESPONSES, summary="Change a strategy")
def update_strategy(strategy_id: str, body: StrategyUpdate) -> Strategy:
    return options_service().update_strategy(user_id_of(router), strategy_id, body)


@router.delete("/options/strategies/<strategy_id>", responses=OK_RESPONSES,
               summary="Delete a strategy with its legs, allocations and schedule")
def delete_strategy(strategy_id: str) -> Message:
    options_service().delete_strategy(user_id_of(router), strategy_id)
    return Message(message=f"strategy {strategy_id} deleted")


@router.post("/options/strategies/<strategy_id>/activate", responses=GATED,
             summary="Activate (409 with reasons when not executable)")
def activate_strategy(strategy_id: str) -> Strategy:
    _require_mfa_if_live(strategy_id, f"activating strategy {strategy_id}")
    return options_service().set_status(user_id_of(router), strategy_id, EntityStatus.ACTIVE)


@router.post("/options/strategies/<strategy_id>/pause", responses=OK_RESPONSES, summary="Pause")
def pause_strategy(strategy_id: str) -> Strategy:
    return options_service().set_status(user_id_of(router), strategy_id, EntityStatus.PAUSED)


@router.get("/options/strategies/<strategy_id>/legs", responses=OK_RESPONSES, summary="The strategy's legs")
def list_legs(strategy_id: str) -> LegList:
    return LegList(items=options_service().list_legs(user_id_of(router), strategy_id))


@router.post("/options/strategies/<strategy_id>/legs", responses=CREATED, summary="Add legs (bulk)")
def add_legs(strategy_id: str, body: LegsCreate) -> LegList:
    _require_mfa_if_live(strategy_id, f"adding legs to strategy {strategy_id}")
    return created(LegList(items=options_service().add_legs(user_id_of(router), strategy_id, body)))


@router.get("/options/strategies/<strategy_id>/legs/<leg_no>", responses=OK_RESPONSES, summary="One leg")
def get_leg(strategy_id: str, leg_no: LegNo) -> Leg:
    return options_service().get_leg(user_id_of(router), strategy_id, leg_no)


@router.put("/options/strategies/<strategy_id>/legs/<leg_no>", responses=GATED, summary="Change a leg")
def update_leg(strategy_id: str, leg_no: LegNo, body: LegUpdate) -> Leg:
    if "lots" in body.model_fields_set:
        _require_mfa_if_live(strategy_id, f"changing the lots of leg {leg_no} of strategy {strategy_id}")
    return options_service().update_leg(user_id_of(router), strategy_id, leg_no, body)


@router.delete("/options/strategies/<strategy_id>/legs/<leg_no>", responses=OK_RESPONSES, summary="Delete a leg")
def delete_leg(strategy_id: str, leg_no: LegNo) -> Message:
    options_service().delete_leg(user_id_of(router), strategy_id, leg_no)
    return Message(message=f"leg {leg_no} of strategy {strategy_id} deleted")


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
