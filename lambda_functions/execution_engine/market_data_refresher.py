"""Market-data refresher (daily 08:00 IST schedule and the per-minute "Refresh Market Data"):
publishes the day's instrument masters to S3, one per broker (services.instruments_store):

- ``kite``: the canonical master, Kite's NFO + BFO ``/instruments`` dump, downloaded through the
  environment's market-data account (``QL_MARKET_DATA_ACCOUNT`` = ``user_id/client_id``, a LIVE
  Zerodha account; config/environments.json ``market_data.account``);
- ``angel``: Angel One's scrip master (NFO/BFO derivative and index rows), for ``symboltoken``;
- ``finvasia``, ``zebu``: the Noren NFO and BFO symbol files.

The broker files are public downloads (no login). Each master is published once per trading day;
an invocation that finds them all published is a cheap no-op (one HEAD per broker). A master that
cannot be fetched is reported and the invocation FAILS (the async-invoke failure lands in the
dead-letter queue and its alarm) after the others are published; the next minute tries again.

With ``QL_MARKET_DATA_ACCOUNT=simulator`` (local/dev, paper only) there is no account to fetch
Kite's dump with: the Kite master is not published (the simulator's environment may use the
bundled extract), the broker files still are.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from aws_lambda_powertools import Logger

from shared_utils.clock import IST, default_clock
from shared_utils.execution.wiring import metrics

logger = Logger()

#: seconds for one broker file download
FETCH_TIMEOUT_S = 60


class RefreshFailed(RuntimeError):
    """At least one broker's master could not be published (the message lists each reason)."""


def http_get(url: str) -> bytes:
    """GET ``url`` (a broker's public master file). Raises on a non-2xx answer."""
    import requests

    answer = requests.get(url, timeout=FETCH_TIMEOUT_S)
    answer.raise_for_status()
    return answer.content


def _kite_master(provider, repos, account_ref: str) -> str:
    from shared_utils.models.enums import BrokerName
    from shared_utils.services import instruments_store

    user_id, client_id = account_ref.split("/", 1)
    account = repos.accounts.get(user_id, client_id)
    if account.broker is not BrokerName.ZERODHA:
        raise ValueError(f"market-data account {account_ref} belongs to broker {account.broker.value}: the canonical "
                         "master is Kite's dump, fetched through a Zerodha account")
    client = provider.client_for(account)
    rows = [i.raw for exchange in ("NFO", "BFO") for i in client.instruments(exchange)]
    if not rows:
        raise ValueError("Kite returned no NFO/BFO instruments")
    return instruments_store.rows_to_kite_csv(rows)


def _angel_master(fetch: Callable[[str], bytes]) -> bytes:
    import json

    from shared_utils.services import instruments_store

    records = instruments_store.angel_derivative_records(json.loads(fetch(instruments_store.ANGEL_SCRIP_MASTER_URL)))
    if not any(r.get("exch_seg") in ("NFO", "BFO") for r in records):
        raise ValueError("Angel's scrip master holds no NFO/BFO rows")
    return json.dumps(records, separators=(",", ":")).encode()


def _noren_master(broker: str, fetch: Callable[[str], bytes]) -> str:
    from shared_utils.services import instruments_store

    return instruments_store.noren_csv(fetch(url) for url in instruments_store.NOREN_SYMBOL_FILES[broker])


def refresh(clock=None, provider=None, repos=None, bucket: str | None = None, s3=None,
            fetch: Callable[[str], bytes] | None = None, brokers: tuple[str, ...] = ("kite", "angel", "finvasia", "zebu"),
            raise_on_failure: bool = False) -> dict[str, Any]:
    """Publish each of today's missing masters.

    Returns ``{"trade_date", "action", "rows", "published": {broker: key}, "present": [broker],
    "failed": {broker: reason}, "skipped": {broker: reason}}``; ``rows`` counts the Kite rows.

    Raises:
        RefreshFailed: ``raise_on_failure`` and some master could not be published.
    """
    from shared_utils.market.calendar import default_calendar
    from shared_utils.services import instruments_store
    from shared_utils.services.market_data import SIMULATOR

    clock = clock or default_clock()
    fetch = fetch or http_get
    today = clock.now().astimezone(IST).date()
    result: dict[str, Any] = {"trade_date": today.isoformat(), "action": "", "rows": 0, "published": {},
                              "present": [], "failed": {}, "skipped": {}}
    if not default_calendar().is_trading_day(today):
        result["action"] = "not a trading day"
        return result
    account_ref = (os.environ.get("QL_MARKET_DATA_ACCOUNT") or "").strip()
    for broker in brokers:
        if instruments_store.exists(today, bucket, s3, broker=broker):
            result["present"].append(broker)
            continue
        try:
            if broker == "kite":
                if not account_ref or account_ref == SIMULATOR:
                    result["skipped"]["kite"] = (f"QL_MARKET_DATA_ACCOUNT={account_ref or '(unset)'}: no market-data "
                                                 "account to download Kite's dump with (paper-only environment)")
                    continue
                if provider is None or repos is None:
                    from shared_utils.accounts.provider import BrokerClientProvider
                    from shared_utils.accounts.secrets import BrokerSecretStore
                    from shared_utils.config import current_environment
                    from shared_utils.persistence.repositories import Repositories

                    env = current_environment()
                    repos = repos or Repositories.for_environment(env)
                    provider = provider or BrokerClientProvider(BrokerSecretStore(env), clock)
                text = _kite_master(provider, repos, account_ref)
                result["rows"] = text.count("\n") - 1
                body: str | bytes = text
            elif broker == "angel":
                body = _angel_master(fetch)
            else:
                body = _noren_master(broker, fetch)
            result["published"][broker] = instruments_store.publish_master(broker, body, today, bucket, s3)
        except Exception as exc:  # noqa: BLE001 - each broker on its own; all failures are reported below
            result["failed"][broker] = f"{type(exc).__name__}: {getattr(exc, 'broker_message', None) or exc}"
    parts = [f"published {', '.join(result['published'].values())}" if result["published"] else "",
             f"already published: {', '.join(result['present'])}" if result["present"] else "",
             "; ".join(f"{b} FAILED: {r}" for b, r in result["failed"].items()),
             "; ".join(f"{b} skipped: {r}" for b, r in result["skipped"].items())]
    result["action"] = "; ".join(p for p in parts if p)
    if result["failed"] and raise_on_failure:
        raise RefreshFailed(f"instrument masters of {today.isoformat()}: {result['action']}")
    return result


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    try:
        result = refresh(raise_on_failure=True)
    except RefreshFailed as exc:
        logger.error("instrument masters not all published", extra={"reason": str(exc)})
        raise
    logger.info("instrument masters", extra=result)
    return result
