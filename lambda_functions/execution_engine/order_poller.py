"""Order poller ("Poll Orders" schedule, every "Execution Completed" event, and the postback
follow-up queue): each account's order book once, working orders updated, stops placed after
entry fills, partial-fill policy. Runs in the VPC (static egress IP) where the stops are sent.

An "Execution Completed" event limits the run to that strategy; an SQS batch from the postback
follow-up queue (``{"user_id", "strategy_id", "order_key"}`` per message, written by the public
postbacks function, which records but never calls a broker) limits it to the strategies of the
batch; other events poll every watched strategy.
"""

import json

from aws_lambda_powertools import Logger

from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


def scope_of(event: dict) -> list[dict[str, str]] | None:
    """The strategies to poll: from an SQS batch, an "Execution Completed" detail, else None (all)."""
    records = (event or {}).get("Records")
    if records:
        scope: dict[tuple[str, str], dict[str, str]] = {}
        for record in records:
            body = json.loads(record.get("body") or "{}")
            if body.get("user_id") and body.get("strategy_id"):
                scope[(body["user_id"], body["strategy_id"])] = {"user_id": body["user_id"],
                                                                 "strategy_id": body["strategy_id"]}
        return list(scope.values())
    detail = (event or {}).get("detail") or {}
    if detail.get("user_id") and detail.get("strategy_id"):
        return [{"user_id": detail["user_id"], "strategy_id": detail["strategy_id"]}]
    return None


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = run_order_poller(installed_context() or engine_context(), scope=scope_of(event))
    logger.info("polled", extra={"strategies": len(result["strategies"]), "book_errors": result["book_errors"]})
    return result
