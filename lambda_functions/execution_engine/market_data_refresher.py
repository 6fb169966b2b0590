"""Market-data refresher (daily 08:00 IST schedule and the per-minute "Refresh Market Data"):
keeps the day's instrument master in S3. On a trading day without today's dump, it downloads
Kite's NFO and BFO instruments through the platform's market-data account
(``QL_MARKET_DATA_ACCOUNT`` = ``user_id/client_id``, a LIVE Zerodha account) and publishes them
(services.instruments_store). Every other invocation is a cheap no-op.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from shared_utils.clock import IST, default_clock
from shared_utils.execution.wiring import metrics

logger = Logger()


def refresh(clock=None, provider=None, repos=None, bucket: str | None = None, s3=None) -> dict:
    """Publish today's dump if it is missing. Returns {"trade_date", "action", "rows"}."""
    from shared_utils.market.calendar import default_calendar
    from shared_utils.services import instruments_store

    clock = clock or default_clock()
    today = clock.now().astimezone(IST).date()
    if not default_calendar().is_trading_day(today):
        return {"trade_date": today.isoformat(), "action": "not a trading day", "rows": 0}
    if instruments_store.exists(today, bucket, s3):
        return {"trade_date": today.isoformat(), "action": "already published", "rows": 0}
    account_ref = os.environ.get("QL_MARKET_DATA_ACCOUNT")
    if not account_ref:
        return {"trade_date": today.isoformat(), "action": "no QL_MARKET_DATA_ACCOUNT: keeping the bundled master",
                "rows": 0}
    if provider is None or repos is None:
        from shared_utils.accounts.provider import BrokerClientProvider
        from shared_utils.accounts.secrets import BrokerSecretStore
        from shared_utils.config import current_environment
        from shared_utils.persistence.repositories import Repositories

        env = current_environment()
        repos = Repositories.for_environment(env)
        provider = BrokerClientProvider(BrokerSecretStore(env), clock)
    user_id, client_id = account_ref.split("/", 1)
    client = provider.client_for(repos.accounts.get(user_id, client_id))
    rows = [i.raw for exchange in ("NFO", "BFO") for i in client.instruments(exchange)]
    key = instruments_store.publish(instruments_store.rows_to_kite_csv(rows), today, bucket, s3)
    return {"trade_date": today.isoformat(), "action": f"published {key}", "rows": len(rows)}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = refresh()
    logger.info("instrument master", extra=result)
    return result
