"""Scheduled daily session upkeep (issue 16; EventBridge, MON-FRI IST):

- ``{"detail": {"action": "remind"}}`` at ``auth_broker.login_reminder_time_ist`` (default 08:15):
  every LIVE account without a session valid at the open gets a login reminder (SNS, per trader
  by the ``user_id`` message attribute; the OAuth brokers' link returns to our callback).
- ``{"detail": {"action": "logout"}}`` at ``auth_broker.session_logout_time_ist`` (default 15:45):
  every stored broker session is logged out at the broker and dropped.

``detail.at`` (ISO instant with offset) may override "now" for a manual re-run. Output: client ids
and results only (never a token or credential).
"""

from __future__ import annotations

from typing import Any

from lambda_functions.auth_broker.common import session_service
from lambda_functions.options_platform.common import logger
from shared_utils.clock import parse_instant


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = (event or {}).get("detail") or {}
    at = parse_instant(detail["at"]) if detail.get("at") else None
    action = detail.get("action")
    service = session_service()
    if action == "remind":
        reminders = service.login_reminders(at)
        logger.info("login reminders sent", extra={"count": len(reminders)})
        return {"action": action, "reminded": [{"user_id": r["user_id"], "client_id": r["client_id"]} for r in reminders]}
    if action == "logout":
        report = service.logout_all(at)
        logger.info("daily logout done", extra={k: len(v) for k, v in report.items()})
        return {"action": action, **report}
    raise ValueError(f"unknown action {action!r}: expected 'remind' or 'logout'")
