"""Broker layer: one :class:`BrokerClient` interface, one adapter per broker, one error taxonomy.

Entry point for the execution engine::

    client = create_broker_client("zerodha", credentials, session, root=None, account_id="ZX1234")
    ack = client.place_order(OrderRequest(...))            # may raise errors.*
    report = client.find_order_by_tag(tag)                  # after OutcomeUnknown

Adapters import their SDK lazily (the Angel SDK only when an Angel client is built).
"""

from __future__ import annotations

from typing import Any

from shared_utils.brokers.base import BrokerClient, BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import (
    BrokerError,
    BrokerUnavailable,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    SessionExpired,
    UnmappedValue,
)
from shared_utils.brokers.models import (
    BrokerInstrument,
    InstrumentRef,
    ModifyRequest,
    OrderAck,
    OrderReport,
    OrderRequest,
    PositionReport,
    Quote,
)
from shared_utils.brokers.ratelimit import limiter_for
from shared_utils.models.enums import BrokerName

__all__ = [
    "BrokerClient", "BrokerCredentials", "BrokerSession", "BrokerError", "BrokerUnavailable", "OrderNotFound",
    "OrderRejected", "OutcomeUnknown", "RateLimited", "SessionExpired", "UnmappedValue", "BrokerInstrument",
    "InstrumentRef", "ModifyRequest", "OrderAck", "OrderReport", "OrderRequest", "PositionReport", "Quote",
    "create_broker_client",
]


def create_broker_client(
    broker: BrokerName | str,
    credentials: BrokerCredentials | None = None,
    session: BrokerSession | None = None,
    *,
    root: str | None = None,
    timeout: float = 7.0,
    account_id: str | None = None,
    **paper_kwargs: Any,
) -> BrokerClient:
    """Build the client of one broker account.

    Args:
        broker: ``BrokerName`` value (zerodha, angel, finvasia, zebu, paper).
        credentials / session: see :class:`BrokerCredentials` / :class:`BrokerSession`.
        root: API host override (a fake server's ``url`` in tests / the local platform).
        timeout: seconds per HTTP request; an order request that times out raises OutcomeUnknown.
        account_id: key of the process-wide per-account rate limiter (shared by every client
            of that account); ``None`` gives the client its own limiter.
        paper_kwargs: for ``paper``: ``market_data``, ``contract_lookup``, ``slippage_bps``, ...

    Raises:
        UnmappedValue: unknown broker name.
    """
    name = BrokerName(broker) if str(broker) in {b.value for b in BrokerName} else None
    if name is None:
        raise UnmappedValue(f"unknown broker {broker!r}", broker=str(broker), code="UNMAPPED")
    limiter = limiter_for(name.value, account_id) if account_id else None
    if name is BrokerName.PAPER:
        from shared_utils.brokers.paper import PaperBroker

        return PaperBroker(rate_limiter=limiter, **paper_kwargs)
    if credentials is None:
        raise ValueError(f"{name.value}: credentials are required")
    if name is BrokerName.ZERODHA:
        from shared_utils.brokers.zerodha import ZerodhaClient

        return ZerodhaClient(credentials, session, root=root, timeout=timeout, rate_limiter=limiter)
    if name is BrokerName.ANGEL:
        from shared_utils.brokers.angel import AngelClient

        return AngelClient(credentials, session, root=root, timeout=timeout, rate_limiter=limiter)
    from shared_utils.brokers.noren import NorenClient

    return NorenClient(name.value, credentials, session, host=root, timeout=timeout, rate_limiter=limiter)
