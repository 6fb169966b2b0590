"""Scheduled (EventBridge, 08:45 IST MON-FRI): the pre-open broker session health check.

Lists every LIVE account a strategy due today needs that has no session valid at the open and
publishes the list to the alerts topic (``ALERTS_TOPIC_ARN``); nothing on a non-trading day.
``detail.trade_date`` (``YYYY-MM-DD``) overrides today's IST date for a manual run.
Output: ``{"trade_date", "missing": [{user_id, client_id, broker, reason, strategy_ids}]}``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from lambda_functions.auth_broker.common import session_service
from lambda_functions.options_platform.common import logger
from shared_utils.clock import default_clock, to_ist


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    given = ((event or {}).get("detail") or {}).get("trade_date")
    trade_date = date.fromisoformat(given) if given else to_ist(default_clock().now()).date()
    missing = session_service().health_check(trade_date)
    logger.info("broker session health check", extra={"trade_date": trade_date.isoformat(), "missing": len(missing)})
    return {"trade_date": trade_date.isoformat(), "missing": [m.model_dump() for m in missing]}
