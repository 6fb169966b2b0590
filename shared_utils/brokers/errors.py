"""One error taxonomy for every broker adapter; the execution engine acts on the class only.

==================  =========================================================================
class               what the engine does
==================  =========================================================================
SessionExpired      log in again (daily token died: Kite TokenException, Angel AG8001/AG8002/
                    AB1010, Noren "Session Expired"), then the call may be repeated.
OrderRejected       the broker refused the request (RMS / input): never retry as-is.
OrderNotFound       the order id is not in the broker's book (Angel AB1013, Kite order_history
                    InputException).
RateLimited         HTTP 429 / "exceeding access rate": the broker did not act; retry later.
BrokerUnavailable   failed BEFORE the broker could have acted (connection refused, 503,
                    read failure on a read-only call): safe to retry.
OutcomeUnknown      an order-changing request was sent and its answer was lost (read timeout,
                    connection reset after send, 5xx other than 503): reconcile by tag with
                    ``find_order_by_tag``; NEVER re-send.
UnmappedValue       the broker sent (or we would send) a code missing from the mapping table.
==================  =========================================================================

Every error carries ``broker`` (a :class:`BrokerName` value), ``broker_message`` (what the
broker said, verbatim), ``code`` (broker error code or exception type) and ``http_status``.
Messages never contain credentials or tokens.
"""

from __future__ import annotations

from typing import Any


class BrokerError(Exception):
    """Base of all broker-layer errors.

    Args:
        message: human summary (no secrets).
        broker: ``BrokerName`` value, e.g. ``"zerodha"``.
        broker_message: what the broker said, verbatim (``None`` if it said nothing).
        code: broker error code (``"AG8001"``), Kite ``error_type``, or transport exception name.
        http_status: HTTP status of the answer, when there was one.
        raw: the broker's envelope (dict) when available.
    """

    #: whether repeating the same request can never double an order
    retry_safe: bool = False

    def __init__(
        self,
        message: str,
        *,
        broker: str,
        broker_message: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(message)
        self.broker = str(broker)
        self.broker_message = broker_message
        self.code = code
        self.http_status = http_status
        self.raw = raw

    def __str__(self) -> str:  # pragma: no cover - formatting only
        parts = [super().__str__(), f"broker={self.broker}"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.http_status:
            parts.append(f"http={self.http_status}")
        if self.broker_message and self.broker_message not in parts[0]:
            parts.append(f"broker said: {self.broker_message}")
        return " | ".join(parts)


class SessionExpired(BrokerError):
    """The access token / JWT / susertoken is no longer valid: call ``login()`` again."""


class OrderRejected(BrokerError):
    """The broker refused the request (RMS or input validation). Do not retry unchanged."""


class OrderNotFound(BrokerError):
    """No order with that id in the broker's order book."""


class RateLimited(BrokerError):
    """The broker throttled the request (HTTP 429 or its own rate message). It did not act."""

    retry_safe = True


class BrokerUnavailable(BrokerError):
    """The request failed before the broker could have acted on it; safe to retry."""

    retry_safe = True


class OutcomeUnknown(BrokerError):
    """An order-changing request was sent and its outcome is unknown.

    Reconcile with ``BrokerClient.find_order_by_tag(tag)``; never re-send blindly.
    ``tag`` is the order tag that was sent (``None`` for modify/cancel).
    """

    def __init__(self, message: str, *, tag: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.tag = tag


class UnmappedValue(BrokerError, ValueError):
    """A value missing from a broker mapping table (unknown values raise, never default)."""
