"""POST /postbacks/{broker}: public route (no authorizer); the body is verified here.

Zerodha: checksum sha256(order_id + order_timestamp + api_secret) with the api_secret of the
account that owns the order (found by the order's tag). 200 = applied; 403 = refused, nothing
changed; 400 = not JSON; 202 = verified and queued for the order poller. Angel One / Noren postbacks are unsigned: refused (403), those brokers
are polled (shared_utils.execution.postbacks).

Deployed, this function only RECORDS and ENQUEUES (issue 14, finding 8): it runs outside the VPC
(an order from its IP would be rejected by the brokers, whose APIs accept registered static IPs
only), so it sends nothing to a broker. A verified postback is only a trigger (issue 13 item 14): nothing of its unsigned fields is
saved; ``{"user_id", "strategy_id", "order_key"}`` goes to the follow-up queue (``POSTBACK_QUEUE_URL``),
which the order poller consumes inside the VPC: it reads the account's order book and places the
stop of a filled entry from the static egress IP. The function reads only the account's checksum
secret (``.../postback-checksum/{user_id}/{client_id}``: the Kite api_secret alone), never the
broker secret with the API key and the day's access token; its IAM policy allows that prefix only.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Callable

from aws_lambda_powertools import Logger

from shared_utils.execution.postbacks import handle_postback

logger = Logger()

#: tests and the local platform may install a context (repos, clock, clients, publisher)
_override: dict[str, Any] = {}


def set_context(ctx, api_secret_for=None, enqueue: Callable[[dict], None] | None = None) -> None:
    """Use ``ctx`` (and ``api_secret_for(user_id, client_id)``) instead of the deployed ones.
    With ``enqueue`` the handler records and enqueues as deployed; without it the follow-ups
    (the stop after an entry fill) run in-process, as on a machine with a registered IP."""
    _override.clear()
    if ctx is not None:
        _override.update(ctx=ctx, api_secret_for=api_secret_for, enqueue=enqueue)


def follow_up_message(order: Any) -> dict[str, str]:
    """What the order poller needs to follow a recorded update up: the strategy to poll."""
    return {"user_id": order.user_id, "strategy_id": order.strategy_id, "order_key": order.order_key}


@lru_cache(maxsize=1)
def _deployed():
    """A recording-only context: the tables and the clock; no broker client, no broker secret."""
    import boto3

    from shared_utils.accounts import checksum_secrets
    from shared_utils.clock import default_clock
    from shared_utils.config import current_environment
    from shared_utils.execution.context import EngineContext
    from shared_utils.market.calendar import default_calendar
    from shared_utils.persistence.repositories import Repositories

    env = current_environment()
    ctx = EngineContext(repos=Repositories.for_environment(env), env=env, clock=default_clock(),
                        calendar=default_calendar(), master=None, market=None, clients=None, publisher=None)
    secrets = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or env.region)
    sqs = boto3.client("sqs", region_name=os.environ.get("AWS_REGION") or env.region)
    queue_url = os.environ["POSTBACK_QUEUE_URL"]

    def api_secret_for(user_id: str, client_id: str) -> str | None:
        return checksum_secrets.read(secrets, checksum_secrets.checksum_secret_name(env.prefix, user_id, client_id))

    def enqueue(message: dict) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

    return ctx, api_secret_for, enqueue


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
        ctx, secret_for, enqueue = _override["ctx"], _override["api_secret_for"], _override["enqueue"]
    else:
        ctx, secret_for, enqueue = _deployed()
    result = handle_postback(ctx, broker, payload, secret_for, follow_up=enqueue is None)
    if result.status in (200, 202) and enqueue is not None and result.order is not None:
        enqueue(follow_up_message(result.order))
    # never log the body: it carries the checksum; the order id and tag are enough to trace
    logger.info("postback", extra={"broker": broker, "status": result.status,
                                   "tag": payload.get("tag") if isinstance(payload, dict) else None})
    return _answer(result.status, result.body)
