"""The ONLY module that builds key strings for the single table (ARCHITECTURE.md, "The single
table"). Nothing else concatenates ``#``-separated keys.

Base table: PK ``user_id``, SK ``sort_key``.

=================  ===================================================
entity             sort_key
=================  ===================================================
basket             ``BASKET#{basket_id}``
strategy           ``STRATEGY#{strategy_id}``
leg                ``LEG#{strategy_id}#{leg_no:02d}``
allocation         ``ALLOCATION#{strategy_id}#{client_id}``
schedule entry     ``SCHEDULE#{strategy_id}#{ENTRY|EXIT}``
execution          ``EXECUTION_ENTRY#{strategy_id}#{YYYYMMDD}`` / ``EXECUTION_EXIT#...``
order              ``ORDER#{execution_id}#{client_id}#{leg_no:02d}#{purpose}#A{attempt:02d}#S{slice:03d}``
position           ``POSITION#{strategy_id}#{client_id}#{tradingsymbol}``
broker account     ``BROKER_ACCOUNT#{client_id}`` (broker accounts table, PK user_id)
=================  ===================================================

GSI1 ``AllocationsByStrategy``: ``gsi1pk = strategy_id``,
``gsi1sk = ALLOCATION#{priority:03d}#{client_id}`` (allocation items only).

GSI2 ``ExecutionSchedule`` (fixes the seed: keyed by time slot, not by user):
``gsi2pk = {ENTRY|EXIT}#{HH:MM}#{shard:02d}``, ``gsi2sk = {user_id}#{strategy_id}``; only the
SCHEDULE items of ACTIVE strategies carry these attributes.

GSI3 ``OrdersByTag``: ``gsi3pk = ORDERTAG#{tag}`` on order items, so a postback or a
reconciliation that knows only the broker's tag finds the order.

Order key includes the purpose (ENTRY, EXIT, STOP_LOSS, TARGET) so that an entry order and the
stop-loss placed for it are distinct keys, each with its own deterministic tag. The slice number
(0..999, one per freeze-limit slice) and the attempt number (0 = the first send, 1.. = retries,
completions and exit retries; 0..99) are SEPARATE fixed-width segments (``A`` and ``S``
prefixed), so no slice count can collide with a retry: the key is injective in
(execution, account, leg, purpose, attempt, slice) at every size the limits allow
(issue 13 item 10: the old scheme added a retry offset of 50 to the slice number, so slice 51
of a 52-slice leg equalled the retry of slice 1).

``PLACEMENT#{execution_id}#{client_id}#{batch}`` is the PlaceOrders claim of one work item (one
conditional put before the sleep: a second PlaceOrders for the same item finds it taken and
reconciles by tag instead of sending).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from shared_utils.models.enums import ExecutionType, OrderPurpose

SEP = "#"
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

BASKET = "BASKET"
STRATEGY = "STRATEGY"
LEG = "LEG"
ALLOCATION = "ALLOCATION"
SCHEDULE = "SCHEDULE"
EXECUTION_ENTRY = "EXECUTION_ENTRY"
EXECUTION_EXIT = "EXECUTION_EXIT"
ORDER = "ORDER"
POSITION = "POSITION"
BROKER_ACCOUNT = "BROKER_ACCOUNT"
CONTROL = "CONTROL"
ORDERTAG = "ORDERTAG"
PLACEMENT = "PLACEMENT"

#: partition key of platform-wide items (kill switch, alerts)
PLATFORM_PARTITION = "PLATFORM"


class KeyError_(ValueError):
    """An id that would break a key (contains ``#``, empty, too long)."""


def check_id(value: str, field: str) -> str:
    """Return ``value`` if it is a safe id component, else raise naming ``field``."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise KeyError_(f"{field}: {value!r} is not a valid id (1-64 of A-Z a-z 0-9 _ . : -)")
    return value


def _hhmm(value: str) -> str:
    if not _HHMM_RE.match(value):
        raise KeyError_(f"time: {value!r} is not HH:MM")
    return value


# ---- base table sort keys ------------------------------------------------------------------

def basket_sk(basket_id: str) -> str:
    return f"{BASKET}{SEP}{check_id(basket_id, 'basket_id')}"


def strategy_sk(strategy_id: str) -> str:
    return f"{STRATEGY}{SEP}{check_id(strategy_id, 'strategy_id')}"


def leg_sk(strategy_id: str, leg_no: int) -> str:
    if not 1 <= int(leg_no) <= 99:
        raise KeyError_(f"leg_no: {leg_no} is outside 1..99")
    return f"{LEG}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}{int(leg_no):02d}"


def legs_prefix(strategy_id: str) -> str:
    return f"{LEG}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}"


def allocation_sk(strategy_id: str, client_id: str) -> str:
    return f"{ALLOCATION}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}{check_id(client_id, 'client_id')}"


def allocations_prefix(strategy_id: str) -> str:
    return f"{ALLOCATION}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}"


def schedule_sk(strategy_id: str, execution_type: ExecutionType | str) -> str:
    return f"{SCHEDULE}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}{ExecutionType(execution_type).value}"


def schedules_prefix(strategy_id: str | None = None) -> str:
    if strategy_id is None:
        return f"{SCHEDULE}{SEP}"
    return f"{SCHEDULE}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}"


def execution_sk(strategy_id: str, execution_type: ExecutionType | str, trade_date: date) -> str:
    kind = EXECUTION_ENTRY if ExecutionType(execution_type) is ExecutionType.ENTRY else EXECUTION_EXIT
    return f"{kind}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}{trade_date:%Y%m%d}"


def executions_prefix(execution_type: ExecutionType | str, strategy_id: str | None = None) -> str:
    kind = EXECUTION_ENTRY if ExecutionType(execution_type) is ExecutionType.ENTRY else EXECUTION_EXIT
    if strategy_id is None:
        return f"{kind}{SEP}"
    return f"{kind}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}"


def execution_id(strategy_id: str, execution_type: ExecutionType | str, trade_date: date) -> str:
    """Deterministic id of one execution: ``{strategy_id}.{YYYYMMDD}.{E|X}``.

    One strategy has at most one ENTRY and one EXIT execution per trading date, so the id
    doubles as the idempotency key of the claim.
    """
    suffix = "E" if ExecutionType(execution_type) is ExecutionType.ENTRY else "X"
    return f"{check_id(strategy_id, 'strategy_id')}.{trade_date:%Y%m%d}.{suffix}"


def parse_execution_id(value: str) -> tuple[str, date, ExecutionType]:
    """Inverse of :func:`execution_id`. Raises KeyError_ on a malformed id."""
    try:
        strategy_id, ymd, suffix = value.rsplit(".", 2)
        trade_date = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
        kind = {"E": ExecutionType.ENTRY, "X": ExecutionType.EXIT}[suffix]
    except (ValueError, KeyError) as exc:
        raise KeyError_(f"execution_id: {value!r} is malformed") from exc
    return check_id(strategy_id, "strategy_id"), trade_date, kind


#: inclusive bounds of the order key's numeric segments (fixed widths keep keys prefix-free)
MAX_LEG_NO = 99
MAX_SLICE_NO = 999
MAX_ATTEMPT = 99


def order_sk(
    execution_id_: str,
    client_id: str,
    leg_no: int,
    slice_no: int = 0,
    purpose: OrderPurpose | str = OrderPurpose.ENTRY,
    attempt: int = 0,
) -> str:
    """``ORDER#{execution_id}#{client_id}#{leg:02d}#{purpose}#A{attempt:02d}#S{slice:03d}``.

    Raises:
        KeyError_: a segment outside its range (leg 1..99, slice 0..999, attempt 0..99) or an
            unsafe id; never a key that could equal another order's.
    """
    if not 1 <= int(leg_no) <= MAX_LEG_NO:
        raise KeyError_(f"leg_no: {leg_no} is outside 1..{MAX_LEG_NO}")
    if not 0 <= int(slice_no) <= MAX_SLICE_NO:
        raise KeyError_(f"slice_no: {slice_no} is outside 0..{MAX_SLICE_NO}")
    if not 0 <= int(attempt) <= MAX_ATTEMPT:
        raise KeyError_(f"attempt: {attempt} is outside 0..{MAX_ATTEMPT}")
    return (
        f"{ORDER}{SEP}{check_id(execution_id_, 'execution_id')}{SEP}{check_id(client_id, 'client_id')}"
        f"{SEP}{int(leg_no):02d}{SEP}{OrderPurpose(purpose).value}{SEP}A{int(attempt):02d}{SEP}S{int(slice_no):03d}"
    )


def parse_order_sk(value: str) -> tuple[str, str, int, OrderPurpose, int, int]:
    """Inverse of :func:`order_sk`: (execution_id, client_id, leg_no, purpose, attempt, slice_no).

    Raises:
        KeyError_: not an order key of this scheme.
    """
    parts = value.split(SEP)
    try:
        head, execution_id_, client_id, leg, purpose, attempt, slice_ = parts
        if head != ORDER or not attempt.startswith("A") or not slice_.startswith("S"):
            raise ValueError(value)
        return (execution_id_, client_id, int(leg), OrderPurpose(purpose), int(attempt[1:]), int(slice_[1:]))
    except ValueError as exc:
        raise KeyError_(f"order key: {value!r} is malformed") from exc


def placement_sk(execution_id_: str, client_id: str, batch: str) -> str:
    """The claim item of one PlaceOrders work item: ``PLACEMENT#{execution_id}#{client_id}#{batch}``
    (``batch`` identifies the set of orders, see placer)."""
    return (f"{PLACEMENT}{SEP}{check_id(execution_id_, 'execution_id')}{SEP}{check_id(client_id, 'client_id')}"
            f"{SEP}{check_id(batch, 'batch')}")


def orders_prefix(execution_id_: str, client_id: str | None = None) -> str:
    base = f"{ORDER}{SEP}{check_id(execution_id_, 'execution_id')}{SEP}"
    if client_id is None:
        return base
    return f"{base}{check_id(client_id, 'client_id')}{SEP}"


def user_orders_prefix(strategy_id: str | None = None) -> str:
    """Every order of a user (``ORDER#``), or the orders of one strategy's executions
    (``ORDER#{strategy_id}.``: an execution id starts with its strategy id and a dot). A strategy
    id containing a dot may also match another strategy's orders: callers filter exactly."""
    if strategy_id is None:
        return f"{ORDER}{SEP}"
    return f"{ORDER}{SEP}{check_id(strategy_id, 'strategy_id')}."


def position_sk(strategy_id: str, client_id: str, tradingsymbol: str) -> str:
    return (
        f"{POSITION}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}{check_id(client_id, 'client_id')}"
        f"{SEP}{check_id(tradingsymbol, 'tradingsymbol')}"
    )


def positions_prefix(strategy_id: str | None = None) -> str:
    if strategy_id is None:
        return f"{POSITION}{SEP}"
    return f"{POSITION}{SEP}{check_id(strategy_id, 'strategy_id')}{SEP}"


def broker_account_sk(client_id: str) -> str:
    return f"{BROKER_ACCOUNT}{SEP}{check_id(client_id, 'client_id')}"


def control_sk(name: str, client_id: str | None = None) -> str:
    """Platform control items (kill switches): ``CONTROL#{name}`` (global under the PLATFORM
    partition, per user under the user's), ``CONTROL#{name}#{client_id}`` per broker account."""
    if client_id is None:
        return f"{CONTROL}{SEP}{check_id(name, 'control')}"
    return f"{CONTROL}{SEP}{check_id(name, 'control')}{SEP}{check_id(client_id, 'client_id')}"


# ---- live updates (issue 19): one item per open WebSocket connection -----------------------------

LIVE_CONNECTION = "LIVE_CONNECTION"
_CONNECTION_ID_RE = re.compile(r"^[A-Za-z0-9_=+/.-]{1,128}$")


def live_connection_sk(connection_id: str) -> str:
    """``LIVE_CONNECTION#{connection_id}`` under the user's partition (PK ``user_id``): a
    WebSocket connection of that user (shared_utils.live.connections). API Gateway's ids are
    base64-like (``L0SM9cOFvHcCIhw=``), hence their own pattern.

    Raises:
        KeyError_: an id that is empty, too long or has characters outside the pattern.
    """
    if not isinstance(connection_id, str) or not _CONNECTION_ID_RE.match(connection_id):
        raise KeyError_(f"connection_id: invalid value {connection_id!r}")
    return f"{LIVE_CONNECTION}{SEP}{connection_id}"


def live_connections_prefix() -> str:
    return f"{LIVE_CONNECTION}{SEP}"


# ---- GSI keys ------------------------------------------------------------------------------

def gsi1_keys(strategy_id: str, priority: int, client_id: str) -> dict[str, str]:
    if not 0 <= int(priority) <= 999:
        raise KeyError_(f"priority: {priority} is outside 0..999")
    return {
        "gsi1pk": check_id(strategy_id, "strategy_id"),
        "gsi1sk": f"{ALLOCATION}{SEP}{int(priority):03d}{SEP}{check_id(client_id, 'client_id')}",
    }


def shard_of(user_id: str, shards: int) -> int:
    """Stable shard of a user's schedule items in a slot: sha256(user_id) mod ``shards``."""
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:4], "big") % shards


def gsi2_pk(execution_type: ExecutionType | str, hhmm: str, shard: int = 0) -> str:
    """Slot partition: ``ENTRY#09:30#00``."""
    return f"{ExecutionType(execution_type).value}{SEP}{_hhmm(hhmm)}{SEP}{int(shard):02d}"


def gsi2_keys(execution_type: ExecutionType | str, hhmm: str, user_id: str, strategy_id: str, shards: int) -> dict[str, str]:
    return {
        "gsi2pk": gsi2_pk(execution_type, hhmm, shard_of(user_id, shards)),
        "gsi2sk": f"{check_id(user_id, 'user_id')}{SEP}{check_id(strategy_id, 'strategy_id')}",
    }


def gsi3_order_tag_pk(tag: str) -> str:
    return f"{ORDERTAG}{SEP}{check_id(tag, 'tag')}"


def order_tag(order_key: str) -> str:
    """Deterministic broker order tag of a platform order key: 20 alphanumeric characters.

    ``"Q"`` + the first 19 base-36 digits of sha256(order_key). Kite's ``tag`` and Angel One's
    ``ordertag`` accept up to 20 characters (reference/broker-apis.md); 19 base-36 digits
    carry ~98 bits, so two different orders never share a tag in practice. The same order key
    always gives the same tag, which is what lets reconciliation find an order after a
    timeout.
    """
    digest = int.from_bytes(hashlib.sha256(order_key.encode()).digest(), "big")
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    chars = []
    for _ in range(19):
        digest, rem = divmod(digest, 36)
        chars.append(alphabet[rem])
    return "Q" + "".join(chars)


# ---- marketplace (issue 20; shared_utils.marketplace) ---------------------------------------
#
# ``MARKETPLACE`` partition: ``LISTING#{basket_id}`` (one per published admin basket: browse is
# ONE Query of this partition) and ``CHANGE#{basket_id}#{at}`` (the admin's edits, which every
# subscriber of the basket reads as notices). Subscriber partition: ``SUBSCRIPTION#{id}`` and,
# per strategy of the basket, ``SUBSCRIBED#{strategy_id}`` (the definition-owner link Prepare and
# Resolve follow) next to the subscriber's own ``SCHEDULE#{strategy_id}#...`` items. Admin
# partition: ``SUBSCRIBER#{basket_id}#{subscriber_user_id}`` (who to re-schedule on an edit).

MARKETPLACE_PARTITION = "MARKETPLACE"
LISTING = "LISTING"
CHANGE = "CHANGE"
SUBSCRIPTION = "SUBSCRIPTION"
SUBSCRIBED = "SUBSCRIBED"
SUBSCRIBER = "SUBSCRIBER"


def listing_sk(basket_id: str) -> str:
    return f"{LISTING}{SEP}{check_id(basket_id, 'basket_id')}"


def listings_prefix() -> str:
    return f"{LISTING}{SEP}"


def change_sk(basket_id: str, at_iso: str) -> str:
    """``CHANGE#{basket_id}#{at}``: ``at`` is UTC ISO-8601 (sorts by time)."""
    return f"{CHANGE}{SEP}{check_id(basket_id, 'basket_id')}{SEP}{at_iso}"


def changes_prefix(basket_id: str) -> str:
    return f"{CHANGE}{SEP}{check_id(basket_id, 'basket_id')}{SEP}"


def subscription_sk(subscription_id: str) -> str:
    return f"{SUBSCRIPTION}{SEP}{check_id(subscription_id, 'subscription_id')}"


def subscriptions_prefix() -> str:
    return f"{SUBSCRIPTION}{SEP}"


def subscribed_sk(strategy_id: str) -> str:
    return f"{SUBSCRIBED}{SEP}{check_id(strategy_id, 'strategy_id')}"


def subscriber_sk(basket_id: str, subscriber_user_id: str) -> str:
    return f"{SUBSCRIBER}{SEP}{check_id(basket_id, 'basket_id')}{SEP}{check_id(subscriber_user_id, 'user_id')}"


def subscribers_prefix(basket_id: str) -> str:
    return f"{SUBSCRIBER}{SEP}{check_id(basket_id, 'basket_id')}{SEP}"
