"""Marketplace, subscriptions, templates and cloning (issue 20; seed 001 "Marketplace
Operations", "Strategy Templates and Cloning").

Marketplace: GET /options/marketplace (filters), GET /options/marketplace/categories,
GET /options/marketplace/featured, GET /options/marketplace/baskets/{basket_id} (detail: the
definition, the basket's own paper performance; never an account), POST
/options/marketplace/baskets and PUT /options/marketplace/baskets/{basket_id} (ADMIN group:
publish / change a listing), GET /options/marketplace/mine (ADMIN: own listings).
Subscriptions: POST /options/baskets/{basket_id}/subscribe, GET /options/subscriptions,
GET/PUT/DELETE /options/subscriptions/{id}, POST .../pause | .../resume | .../cancel.
Templates: GET /options/templates, GET /options/templates/{id}, POST
/options/templates/{id}/create; POST /options/strategies/{id}/clone.

403 for a non-ADMIN on the admin routes; 404 for anything not visible to the caller; 409 with
``reasons`` for capacity, minimum capital, a PRIVATE basket, a duplicate subscription.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router
from pydantic import BaseModel

from lambda_functions.options_platform.common import (
    ERROR_RESPONSES,
    OK_RESPONSES,
    build_app,
    created,
    logger,
    options_service,
    repositories,
    user_id_of,
)
from shared_utils.clock import default_clock
from shared_utils.config import current_environment
from shared_utils.marketplace.models import (
    CategoryList,
    Listing,
    ListingCreate,
    ListingUpdate,
    MarketplaceDetail,
    MarketplaceList,
    SubscribeRequest,
    SubscriptionDetail,
    SubscriptionList,
    SubscriptionStatus,
    SubscriptionUpdate,
    SubscriptionView,
)
from shared_utils.marketplace.service import MarketplaceService, view
from shared_utils.marketplace.templates import (
    CloneRequest,
    Template,
    TemplateCreate,
    TemplateList,
    clone_strategy,
    create_from_template,
    get_template,
    load_templates,
    summary,
)
from shared_utils.models.api import ErrorBody
from shared_utils.models.leg import Leg
from shared_utils.models.strategy import Strategy

router = Router()
FORBIDDEN = {403: {"description": "Only users of the ADMIN group",
                   "content": {"application/json": {"model": ErrorBody}}}}
CREATED = {201: {"description": "Created"}, **ERROR_RESPONSES}


class CreatedStrategy(BaseModel):
    """A strategy made from a template or a clone (PAUSED until allocated and activated)."""

    strategy: Strategy
    legs: list[Leg]


def _service() -> MarketplaceService:
    return MarketplaceService(repositories(), current_environment(), default_clock())


def _claims() -> dict:
    context = router.current_event.raw_event.get("requestContext") or {}
    return (context.get("authorizer") or {}).get("claims") or {}


def _groups() -> list[str]:
    """``cognito:groups``: a list, or API Gateway's flattened ``"[ADMIN TRADER]"`` / ``"ADMIN,TRADER"``."""
    raw = _claims().get("cognito:groups") or []
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    return [str(g) for g in raw]


# ---- marketplace -------------------------------------------------------------------------------

@router.get("/options/marketplace", responses=OK_RESPONSES, summary="Browse the marketplace's baskets")
def browse(category: Annotated[str | None, Query(max_length=20)] = None,
           risk_level: Annotated[str | None, Query(max_length=10)] = None,
           featured: Annotated[bool | None, Query()] = None,
           q: Annotated[str | None, Query(max_length=100)] = None) -> MarketplaceList:
    return MarketplaceList(items=_service().browse(user_id_of(router), category, risk_level, featured, q))


@router.get("/options/marketplace/categories", responses=OK_RESPONSES, summary="Categories with basket counts")
def categories() -> CategoryList:
    return CategoryList(items=_service().categories(user_id_of(router)))


@router.get("/options/marketplace/featured", responses=OK_RESPONSES, summary="Featured baskets")
def featured_baskets() -> MarketplaceList:
    return MarketplaceList(items=_service().browse(user_id_of(router), featured=True))


@router.get("/options/marketplace/mine", responses={**OK_RESPONSES, **FORBIDDEN},
            summary="ADMIN: your published baskets with their subscriber counts")
def my_listings() -> list[Listing]:
    return _service().admin_listings(user_id_of(router), _groups())


@router.get("/options/marketplace/baskets/<basket_id>", responses=OK_RESPONSES,
            summary="A marketplace basket: its strategies, legs and schedule, and its own paper performance")
def basket_detail(basket_id: str) -> MarketplaceDetail:
    return _service().basket_detail(user_id_of(router), basket_id)


@router.post("/options/marketplace/baskets", responses={**CREATED, **FORBIDDEN},
             summary="ADMIN: publish one of your baskets to the marketplace")
def publish(body: ListingCreate) -> Listing:
    return created(_service().publish(user_id_of(router), _groups(), body, str(_claims().get("name", ""))))


@router.put("/options/marketplace/baskets/<basket_id>", responses={**OK_RESPONSES, **FORBIDDEN},
            summary="ADMIN: change your basket's listing (subscribers are notified)")
def update_listing(basket_id: str, body: ListingUpdate) -> Listing:
    return _service().update_listing(user_id_of(router), _groups(), basket_id, body)


# ---- subscriptions -----------------------------------------------------------------------------

@router.post("/options/baskets/<basket_id>/subscribe", responses=CREATED,
             summary="Subscribe to a marketplace basket with your own accounts and lot multipliers")
def subscribe(basket_id: str, body: SubscribeRequest) -> SubscriptionView:
    return created(view(_service().subscribe(user_id_of(router), basket_id, body)))


@router.get("/options/subscriptions", responses=OK_RESPONSES, summary="Your subscriptions")
def list_subscriptions() -> SubscriptionList:
    return SubscriptionList(items=_service().list(user_id_of(router)))


@router.get("/options/subscriptions/<subscription_id>", responses=OK_RESPONSES,
            summary="A subscription: the basket's definition, your lots per account, the admin's changes")
def subscription_detail(subscription_id: str) -> SubscriptionDetail:
    return _service().detail(user_id_of(router), subscription_id)


@router.put("/options/subscriptions/<subscription_id>", responses=OK_RESPONSES,
            summary="Change a subscription's accounts, multipliers or per-strategy overrides")
def update_subscription(subscription_id: str, body: SubscriptionUpdate) -> SubscriptionView:
    return view(_service().update(user_id_of(router), subscription_id, body))


@router.post("/options/subscriptions/<subscription_id>/pause", responses=OK_RESPONSES,
             summary="Pause: no new entries (open positions still exit on time)")
def pause(subscription_id: str) -> SubscriptionView:
    return view(_service().set_status(user_id_of(router), subscription_id, SubscriptionStatus.PAUSED))


@router.post("/options/subscriptions/<subscription_id>/resume", responses=OK_RESPONSES,
             summary="Resume a paused subscription")
def resume(subscription_id: str) -> SubscriptionView:
    return view(_service().set_status(user_id_of(router), subscription_id, SubscriptionStatus.ACTIVE))


@router.post("/options/subscriptions/<subscription_id>/cancel", responses=OK_RESPONSES,
             summary="Cancel (frees the seat; what is held still exits on time)")
def cancel(subscription_id: str) -> SubscriptionView:
    return view(_service().set_status(user_id_of(router), subscription_id, SubscriptionStatus.CANCELLED))


@router.delete("/options/subscriptions/<subscription_id>", responses=OK_RESPONSES,
               summary="Unsubscribe (the seed's DELETE; same as cancel)")
def unsubscribe(subscription_id: str) -> SubscriptionView:
    return view(_service().set_status(user_id_of(router), subscription_id, SubscriptionStatus.CANCELLED))


# ---- templates and cloning ---------------------------------------------------------------------

@router.get("/options/templates", responses=OK_RESPONSES, summary="The strategy templates")
def list_templates() -> TemplateList:
    user_id_of(router)
    return TemplateList(items=[summary(t) for t in load_templates().values()])


@router.get("/options/templates/<template_id>", responses=OK_RESPONSES,
            summary="A template: its strategy and legs with their selection rules")
def template_detail(template_id: str) -> Template:
    user_id_of(router)
    return get_template(template_id)


@router.post("/options/templates/<template_id>/create", responses=CREATED,
             summary="Create a strategy (PAUSED) from a template in one of your baskets")
def create_from(template_id: str, body: TemplateCreate) -> CreatedStrategy:
    strategy, legs = create_from_template(options_service(), user_id_of(router), template_id, body)
    return created(CreatedStrategy(strategy=strategy, legs=legs))


@router.post("/options/strategies/<strategy_id>/clone", responses=CREATED,
             summary="Clone a strategy (yours, or a marketplace basket's you may see) without its allocations")
def clone(strategy_id: str, body: CloneRequest) -> CreatedStrategy:
    strategy, legs = clone_strategy(options_service(), _service(), user_id_of(router), strategy_id, body)
    return created(CreatedStrategy(strategy=strategy, legs=legs))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
