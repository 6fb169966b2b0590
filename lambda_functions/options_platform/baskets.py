"""Baskets: GET/POST /options/baskets, GET/PUT/DELETE /options/baskets/{basket_id}.

Thin handler: parse (Powertools validation with the pydantic models) -> OptionsService -> shape.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import ERROR_RESPONSES, OK_RESPONSES, build_app, created, logger, options_service, user_id_of
from shared_utils.models.api import BasketDetail, BasketList, Message
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate

router = Router()


@router.get("/options/baskets", responses=OK_RESPONSES, summary="List your baskets")
def list_baskets(limit: Annotated[int | None, Query(ge=1, le=100)] = None,
                 next_token: Annotated[str | None, Query(max_length=2048)] = None) -> BasketList:
    page = options_service().list_baskets(user_id_of(router), limit, next_token)
    return BasketList(items=page.items, next_token=page.next_token)


@router.post("/options/baskets", responses={201: {"description": "Created"}, **ERROR_RESPONSES},
             summary="Create a basket")
def create_basket(body: BasketCreate) -> Basket:
    claims = (router.current_event.raw_event.get("requestContext") or {}).get("authorizer", {}).get("claims", {})
    return created(options_service().create_basket(user_id_of(router), body, claims.get("name", "")))


@router.get("/options/baskets/<basket_id>", responses=OK_RESPONSES, summary="A basket with its strategies")
def get_basket(basket_id: str) -> BasketDetail:
    basket, strategies = options_service().get_basket(user_id_of(router), basket_id)
    return BasketDetail(basket=basket, strategies=strategies)


@router.put("/options/baskets/<basket_id>", responses=OK_RESPONSES, summary="Change a basket")
def update_basket(basket_id: str, body: BasketUpdate) -> Basket:
    return options_service().update_basket(user_id_of(router), basket_id, body)


@router.delete("/options/baskets/<basket_id>", responses=OK_RESPONSES,
               summary="Delete a basket (409 while it holds ACTIVE strategies)")
def delete_basket(basket_id: str) -> Message:
    options_service().delete_basket(user_id_of(router), basket_id)
    return Message(message=f"basket {basket_id} deleted")


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
