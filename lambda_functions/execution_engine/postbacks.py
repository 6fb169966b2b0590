"""POST /postbacks/{broker}: public route (no authorizer); the body is verified here.

Zerodha: checksum sha256(order_id + order_timestamp + api_secret) with the api_secret of the
account that owns the order (found by the order's tag). 200 = applied; 403 = refused, nothing
changed; 400 = not JSON. Angel One / Noren postbacks are unsigned: refused (403), those brokers
are polled (shared_utils.execution.postbacks).
"""

from __future__ import annotations

import json
from functools import lru_cache

from aws_lambda_powertools import Logger

from shared_utils.execution.postbacks import handle_postback, secret_reader

logger = Logger()

#: tests and the local platform may install a context (repos, clock, clients, publisher)
_override = {}


def set_context(ctx, api_secret_for=None) -> None:
    """Use ``ctx`` (and ``api_secret_for(user_id, client_id)``) instead of the deployed ones."""
    _override.clear()
    if ctx is not None:
        _override.update(ctx=ctx, api_secret_for=api_secret_for)


@lru_cache(maxsize=1)
def _deployed():
    """A light context: tables, clock, live broker clients (for the stop placed after a fill),
    the bus; no instrument master (stops use the 0.05 rupee option tick)."""
    from shared_utils.accounts.provider import BrokerClientProvider
    from shared_utils.accounts.secrets import BrokerSecretStore
    from shared_utils.clock import default_clock
    from shared_utils.config import current_environment
    from shared_utils.execution.clients import RoutingClientProvider
    from shared_utils.execution.context import EngineContext
    from shared_utils.execution.events import default_publisher
    from shared_utils.market.calendar import default_calendar
    from shared_utils.persistence.repositories import Repositories

    env = current_environment()
    clock = default_clock()
    store = BrokerSecretStore(env)
    ctx = EngineContext(repos=Repositories.for_environment(env), env=env, clock=clock, calendar=default_calendar(),
                        master=None, market=None, clients=RoutingClientProvider(None, BrokerClientProvider(store, clock)),
                        publisher=default_publisher())
    return ctx, secret_reader(store)


def _answer(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    path = event.get("path") or ""
    broker = (event.get("pathParameters") or {}).get("broker") or path.rstrip("/").rsplit("/", 1)[-1]
    try:
        payload = json.loads(event.get("body") or "")
    except (TypeError, ValueError):
        return _answer(400, {"message": "body: a JSON object is required"})
    if _override:
        ctx, secret_for = _override["ctx"], _override["api_secret_for"]
    else:
        ctx, secret_for = _deployed()
    result = handle_postback(ctx, broker, payload, secret_for)
    # never log the body: it carries the checksum; the order id and tag are enough to trace
    logger.info("postback", extra={"broker": broker, "status": result.status,
                                   "tag": payload.get("tag") if isinstance(payload, dict) else None})
    return _answer(result.status, result.body)
