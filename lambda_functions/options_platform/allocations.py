"""Allocations of a strategy to broker accounts (the seed's leg-level broker allocation).

GET/POST /options/strategies/{strategy_id}/allocations, POST .../allocations/advanced,
GET/PUT/DELETE .../allocations/{client_id}, GET .../allocations/summary. Another user's (or an
unknown) strategy or allocation answers 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import ERROR_RESPONSES, OK_RESPONSES, build_app, created, logger, options_service, user_id_of
from lambda_functions.options_platform.common import repositories
from shared_utils.accounts.mfa import MfaChecker, allocation_change_needs_mfa, claims_of, mfa_responses
from shared_utils.models.allocation import AdvancedAllocationRequest, Allocation, AllocationSpec, AllocationUpdate
from shared_utils.models.api import AllocationList, AllocationSummary, Message
from shared_utils.services.options import parse_date

router = Router()


def _require_mfa_for_live(spec_or_update, client_id: str, creating: bool) -> None:
    """MFA for raising size on a LIVE account (shared_utils.accounts.mfa): a new ACTIVE
    allocation to it, or any change other than pausing / priority."""
    from shared_utils.models.enums import EntityStatus

    if creating and spec_or_update.status is EntityStatus.PAUSED:
        return
    if allocation_change_needs_mfa(repositories(), user_id_of(router), client_id,
                                   None if creating else spec_or_update):
        MfaChecker().check(claims_of(router.current_event.raw_event),
                           f"allocating to or raising the size on LIVE account {client_id}")
CREATED = {201: {"description": "Created"}, **ERROR_RESPONSES}


@router.get("/options/strategies/<strategy_id>/allocations", responses=OK_RESPONSES,
            summary="The strategy's allocations in priority order")
def list_allocations(strategy_id: str) -> AllocationList:
    return AllocationList(items=options_service().list_allocations(user_id_of(router), strategy_id))


@router.post("/options/strategies/<strategy_id>/allocations", responses={**CREATED, **mfa_responses()},
             summary="Allocate to one account (strategy level: lots x strategy_lots_multiplier)")
def add_allocation(strategy_id: str, body: AllocationSpec) -> Allocation:
    _require_mfa_for_live(body, body.client_id, creating=True)
    return created(options_service().add_allocation(user_id_of(router), strategy_id, body))


@router.post("/options/strategies/<strategy_id>/allocations/advanced", responses={**CREATED, **mfa_responses()},
             summary="Allocate per leg to one or more accounts (leg_overrides)")
def add_advanced_allocations(strategy_id: str, body: AdvancedAllocationRequest) -> AllocationList:
    for spec in body.allocations:
        _require_mfa_for_live(spec, spec.client_id, creating=True)
    return created(AllocationList(items=options_service().add_advanced_allocations(user_id_of(router), strategy_id, body)))


@router.get("/options/strategies/<strategy_id>/allocations/summary", responses=OK_RESPONSES,
            summary="Lots and quantity per account and per leg, with the lot size used and its source")
def allocation_summary(strategy_id: str, date: Annotated[str | None, Query(max_length=10)] = None) -> AllocationSummary:
    service = options_service()
    day = parse_date(date, "date", service.today())
    return AllocationSummary(**service.allocation_summary(user_id_of(router), strategy_id, day))


@router.get("/options/strategies/<strategy_id>/allocations/<client_id>", responses=OK_RESPONSES,
            summary="One account's allocation")
def get_allocation(strategy_id: str, client_id: str) -> Allocation:
    return options_service().get_allocation(user_id_of(router), strategy_id, client_id)


@router.put("/options/strategies/<strategy_id>/allocations/<client_id>", responses={**OK_RESPONSES, **mfa_responses()},
            summary="Change an allocation")
def update_allocation(strategy_id: str, client_id: str, body: AllocationUpdate) -> Allocation:
    _require_mfa_for_live(body, client_id, creating=False)
    return options_service().update_allocation(user_id_of(router), strategy_id, client_id, body)


@router.delete("/options/strategies/<strategy_id>/allocations/<client_id>", responses=OK_RESPONSES,
               summary="Remove an allocation")
def delete_allocation(strategy_id: str, client_id: str) -> Message:
    options_service().delete_allocation(user_id_of(router), strategy_id, client_id)
    return Message(message=f"allocation of {strategy_id} to {client_id} deleted")


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
