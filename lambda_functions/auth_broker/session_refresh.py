"""Scheduled (EventBridge, ``auth_broker.session_refresh_time_ist`` IST, MON-FRI): renew the
daily broker sessions of LIVE accounts before the open (``SessionService.refresh_sessions``).

Input: the scheduled event (``detail.at`` = an ISO instant with offset may override "now" for a
manual re-run). Output: the report (client ids and reasons only, never tokens). Holidays: the
service skips them.
"""

from __future__ import annotations

from typing import Any

from lambda_functions.auth_broker.common import session_service
from lambda_functions.options_platform.common import logger
from shared_utils.clock import parse_instant


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    at = ((event or {}).get("detail") or {}).get("at")
    report = session_service().refresh_sessions(parse_instant(at) if at else None)
    logger.info("session refresh done", extra={"trade_date": report.trade_date.isoformat(),
                                               "skipped": report.skipped_reason, "refreshed": len(report.refreshed),
                                               "failed": len(report.failed),
                                               "needs_human_login": len(report.needs_human_login)})
    return report.as_dict()
