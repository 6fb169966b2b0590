"""Broker postbacks (webhooks) -> the order lifecycle.

Zerodha Kite posts JSON order updates (the fields of an order-book row: order_id, status,
order_timestamp, filled_quantity, average_price, tag, ...) with
``checksum = sha256(order_id + order_timestamp + api_secret)`` (reference/broker-apis.md; Kite
Connect v3 "Postbacks"). The platform verifies it with the SECRET OF THE ACCOUNT THAT OWNS THE
ORDER: tag -> order record (GSI3 OrdersByTag) -> (user_id, client_id) -> that account's
secret (``shared_utils.accounts.secrets.BrokerSecretStore``). A postback is refused, and
nothing changes, when: the tag is unknown, the account is not a Zerodha account, the checksum
does not match (constant-time compare), or the order id contradicts the one on record.

A verified postback is only a TRIGGER (issue 13 item 14): the checksum covers order_id and
order_timestamp only, so every other field (status, filled_quantity, average_price...) could be
forged by anyone holding one genuine postback. The platform therefore reads the order from the
broker (``client.order_status(order_id)``) and applies THAT report; when the broker cannot be
read the postback is acknowledged (202) and the order poller learns the update a minute later.

Angel One and Noren (Finvasia, Zebu) postbacks carry no signature, so anyone who learns the URL
could forge fills: the platform refuses them (403) and learns those brokers' updates by polling
(``order_poller``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

from shared_utils.execution.lifecycle import apply_broker_report

UNSIGNED_BROKERS = ("angel", "finvasia", "zebu")


@dataclass(frozen=True)
class PostbackResult:
    """HTTP status and body for the webhook's answer."""

    status: int
    body: dict[str, Any]
    #: the stored order after the update (200 only); not part of the HTTP answer
    order: Any = None


def kite_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    """sha256(order_id + order_timestamp + api_secret), hex."""
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


def parse_kite_report(payload: dict[str, Any]):
    """The postback as an OrderReport, through the Zerodha adapter's own row mapping (the
    postback carries the order-book row's fields)."""
    from shared_utils.brokers.zerodha import ZerodhaClient

    return ZerodhaClient._report(SimpleNamespace(broker="zerodha"), payload)


def handle_postback(ctx: Any, broker: str, payload: dict[str, Any],
                    api_secret_for: Callable[[str, str], str | None], follow_up: bool = True) -> PostbackResult:
    """Verify one postback and act on it. ``api_secret_for(user_id, client_id)`` reads the account's
    Kite api_secret (None when it has none). With ``follow_up=True`` (a process that may call the
    broker: the local platform, tests) the order is read from the broker and that report applied
    (200). ``follow_up=False`` (the deployed webhook, outside the VPC) makes no broker call and
    records nothing: it answers 202 with the order, which the caller enqueues for the order
    poller to read from the broker and apply from the static IP."""
    broker = (broker or "").lower()
    if broker in UNSIGNED_BROKERS:
        return PostbackResult(403, {"message": f"{broker} postbacks are unsigned and not accepted; "
                                               "orders are tracked by polling"})
    if broker != "zerodha":
        return PostbackResult(404, {"message": f"no postbacks for broker {broker!r}"})
    if not isinstance(payload, dict):
        return PostbackResult(400, {"message": "body: a JSON object is required"})
    order_id, stamp, checksum, tag = (str(payload.get(k) or "") for k in ("order_id", "order_timestamp", "checksum", "tag"))
    if not (order_id and stamp and checksum and tag):
        return PostbackResult(403, {"message": "postback refused: order_id, order_timestamp, tag and checksum are required"})
    order = ctx.repos.orders.by_tag(tag) if tag.isalnum() and len(tag) <= 20 else None
    if order is None:
        return PostbackResult(403, {"message": "postback refused: not an order of this platform"})
    account = ctx.repos.accounts.find(order.user_id, order.client_id)
    if account is None or account.broker.value != "zerodha":
        return PostbackResult(403, {"message": "postback refused: the order's account is not a Zerodha account"})
    try:
        secret = api_secret_for(order.user_id, order.client_id)
    except LookupError:
        secret = None
    if not secret:
        return PostbackResult(403, {"message": "postback refused: the account has no API secret to verify it"})
    if not hmac.compare_digest(kite_checksum(order_id, stamp, secret), checksum):
        return PostbackResult(403, {"message": "postback refused: checksum mismatch"})
    if order.broker_order_id and order.broker_order_id != order_id:
        return PostbackResult(403, {"message": "postback refused: order id differs from the one on record"})
    # a trigger only: what the broker says about the order, never the postback's unsigned fields
    from shared_utils.brokers.errors import BrokerError
    from shared_utils.execution.exits import client_of

    if not follow_up:
        # deployed: this function runs outside the VPC and may not call a broker (issue 14,
        # finding 8); the order poller, in the VPC behind the registered static IP, reads the
        # order from the broker and applies THAT (issue 13 item 14): nothing of the postback's
        # unsigned fields is recorded here
        return PostbackResult(202, {"order_key": order.order_key, "status": order.status.value,
                                    "message": "postback verified; the order poller reads the order from the broker"},
                              order=order)
    try:
        client = client_of(ctx, order.user_id, order.client_id)
        report = client.order_status(order_id)
    except (BrokerError, LookupError) as exc:
        return PostbackResult(202, {"order_key": order.order_key, "status": order.status.value,
                                    "message": f"postback noted; the broker could not be read ({exc}): "
                                               "the order poller applies the update"})
    if report.order_id != order_id or (report.tag and report.tag != order.tag):
        return PostbackResult(403, {"message": "postback refused: the broker's order does not match the tag"})
    saved = apply_broker_report(ctx, order, report, client=client)
    return PostbackResult(200, {"order_key": saved.order_key, "status": saved.status.value,
                                "filled_quantity": saved.filled_quantity}, order=saved)


def secret_reader(store: Any) -> Callable[[str, str], str | None]:
    """``api_secret_for`` over a BrokerSecretStore."""

    def read(user_id: str, client_id: str) -> str | None:
        return store.read(store.name_for(user_id, client_id)).credentials.api_secret

    return read
