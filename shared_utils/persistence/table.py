"""A thin gateway over one DynamoDB table (low-level client + TypeSerializer).

Values go in as Python (str, int, Decimal, bool, list, dict, None) and come out the same way;
pydantic models are turned into such values by :func:`to_item`. Floats are converted to
Decimal through ``str`` so 0.1 stays 0.1. Datetimes are stored as ISO-8601 in UTC, dates as
``YYYY-MM-DD``.

Errors: :class:`ConditionFailed` (a ConditionExpression did not hold: version conflict, item
exists, item missing), :class:`TransactionCancelled` (with the per-item reasons), anything else
from botocore propagates.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Iterator

from functools import lru_cache

from pydantic import BaseModel

from shared_utils.clock import UTC
from shared_utils.persistence.table_schema import PARTITION_KEY, SORT_KEY



@lru_cache(maxsize=1)
def _codec():
    """boto3's (de)serializers, imported on first use: importing boto3 costs ~150 ms, which the
    latency-critical PlaceOrders Lambda pays in its pre-send window, not at import."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _client_error():
    from botocore.exceptions import ClientError

    return ClientError


class PersistenceError(Exception):
    """Base of persistence errors."""


class ConditionFailed(PersistenceError):
    """A conditional write did not apply (the item changed, exists already, or is gone)."""


class TransactionCancelled(PersistenceError):
    """A TransactWriteItems was cancelled; ``reasons`` lists the code per item (None = ok)."""

    def __init__(self, message: str, reasons: list[str | None]):
        super().__init__(message)
        self.reasons = reasons

    @property
    def condition_failed(self) -> bool:
        return any(reason == "ConditionalCheckFailed" for reason in self.reasons)


def plain(value: Any) -> Any:
    """Python value -> a value DynamoDB can store (recursively)."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def to_item(model: BaseModel, **keys: Any) -> dict[str, Any]:
    """A model's fields plus ``keys`` (PK/SK/GSI attributes) as a storable dict."""
    item = plain(model)
    item.update({k: v for k, v in keys.items() if v is not None})
    return item


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    serializer = _codec()[0]
    return {k: serializer.serialize(v) for k, v in item.items()}


def deserialize(raw: dict[str, Any]) -> dict[str, Any]:
    deserializer = _codec()[1]
    return {k: deserializer.deserialize(v) for k, v in raw.items()}


def _values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: _codec()[0].serialize(plain(v)) for k, v in values.items()} if values else None


@dataclass(frozen=True)
class Page:
    """One page of a query: ``items`` (plain dicts) and an opaque ``next_token`` (None at end)."""

    items: list[dict[str, Any]]
    next_token: str | None


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode()


def decode_token(token: str | None) -> dict[str, Any] | None:
    """Raises ValueError for a token that was not produced by :func:`encode_token`."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except Exception as exc:  # noqa: BLE001 - any decoding problem means a bad token
        raise ValueError("next_token: not a token this API issued") from exc
    if not isinstance(data, dict):
        raise ValueError("next_token: not a token this API issued")
    return data


_CLIENTS: dict[tuple[str | None, str | None], Any] = {}


def dynamodb_client(endpoint_url: str | None = None, region: str | None = None):
    """A cached low-level DynamoDB client (``AWS_ENDPOINT_URL_DYNAMODB`` or ``endpoint_url``
    points it at moto locally)."""
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-south-1"
    key = (endpoint, region)
    if key not in _CLIENTS:
        import boto3
        from botocore.config import Config

        _CLIENTS[key] = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50),
        )
    return _CLIENTS[key]


def reset_clients() -> None:
    """Forget cached clients (tests that swap endpoints or moto contexts)."""
    _CLIENTS.clear()


class DynamoTable:
    """Operations on one table. ``client`` defaults to :func:`dynamodb_client`."""

    def __init__(self, table_name: str, client: Any | None = None,
                 pk_name: str = PARTITION_KEY, sk_name: str = SORT_KEY) -> None:
        self.name = table_name
        self.client = client or dynamodb_client()
        self.pk_name = pk_name
        self.sk_name = sk_name
        self.request_count = 0

    def key(self, pk: str, sk: str) -> dict[str, Any]:
        return {self.pk_name: pk, self.sk_name: sk}

    # -- single items --------------------------------------------------------------------------
    def get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        self.request_count += 1
        response = self.client.get_item(TableName=self.name, Key=serialize(self.key(pk, sk)), ConsistentRead=consistent)
        raw = response.get("Item")
        return deserialize(raw) if raw else None

    def put(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None,
            names: dict[str, str] | None = None) -> None:
        """Put ``item``; raises ConditionFailed if ``condition`` does not hold."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = _values(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        self._call(self.client.put_item, kwargs)

    def delete(self, pk: str, sk: str, condition: str | None = None, values: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": serialize(self.key(pk, sk))}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = _values(values)
        self._call(self.client.delete_item, kwargs)

    def update(self, pk: str, sk: str, expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None, condition: str | None = None) -> dict[str, Any]:
        """UpdateItem returning the new item; raises ConditionFailed."""
        kwargs: dict[str, Any] = {
            "TableName": self.name, "Key": serialize(self.key(pk, sk)), "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = _values(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if condition:
            kwargs["ConditionExpression"] = condition
        response = self._call(self.client.update_item, kwargs)
        return deserialize(response.get("Attributes", {}))

    def _call(self, fn, kwargs):
        self.request_count += 1
        try:
            return fn(**kwargs)
        except _client_error() as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConditionFailed(exc.response["Error"].get("Message", "condition failed")) from exc
            raise

    # -- queries -------------------------------------------------------------------------------
    def query(self, pk_value: str, sk_prefix: str | None = None, index: str | None = None,
              pk_name: str | None = None, sk_name: str | None = None, limit: int | None = None,
              next_token: str | None = None, forward: bool = True, consistent: bool = False) -> Page:
        """One page of ``pk = :pk [AND begins_with(sk, :prefix)]`` on the table or an index."""
        pk_attr = pk_name or self.pk_name
        sk_attr = sk_name or self.sk_name
        expression = "#pk = :pk"
        names = {"#pk": pk_attr}
        values: dict[str, Any] = {":pk": pk_value}
        if sk_prefix:
            expression += " AND begins_with(#sk, :prefix)"
            names["#sk"] = sk_attr
            values[":prefix"] = sk_prefix
        kwargs: dict[str, Any] = {
            "TableName": self.name, "KeyConditionExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _values(values), "ScanIndexForward": forward,
        }
        if index:
            kwargs["IndexName"] = index
        elif consistent:
            kwargs["ConsistentRead"] = True
        if limit:
            kwargs["Limit"] = limit
        start = decode_token(next_token)
        if start:
            kwargs["ExclusiveStartKey"] = start
        self.request_count += 1
        response = self.client.query(**kwargs)
        return Page([deserialize(i) for i in response.get("Items", [])], encode_token(response.get("LastEvaluatedKey")))

    def query_all(self, pk_value: str, sk_prefix: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of the query, following every page."""
        token = None
        while True:
            page = self.query(pk_value, sk_prefix, next_token=token, **kwargs)
            yield from page.items
            token = page.next_token
            if not token:
                return

    def batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Items for (pk, sk) pairs (missing ones are left out), 100 keys per request, retrying
        unprocessed keys."""
        found: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            request = {self.name: {"Keys": [serialize(self.key(pk, sk)) for pk, sk in unique[start:start + 100]],
                                   "ConsistentRead": True}}
            while request:
                self.request_count += 1
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(deserialize(i) for i in response.get("Responses", {}).get(self.name, []))
                request = response.get("UnprocessedKeys") or None
        return found

    def batch_put(self, items: list[dict[str, Any]]) -> None:
        """Unconditional puts, 25 items per BatchWriteItem, retrying unprocessed items (no
        condition is possible in a batch: callers de-duplicate first)."""
        for start in range(0, len(items), 25):
            request = {self.name: [{"PutRequest": {"Item": serialize(i)}} for i in items[start:start + 25]]}
            while request:
                self.request_count += 1
                response = self.client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or None

    # -- transactions ----------------------------------------------------------------------------
    def put_op(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            op["ConditionExpression"] = condition
        if values:
            op["ExpressionAttributeValues"] = _values(values)
        if names:
            op["ExpressionAttributeNames"] = names
        return {"Put": op}

    def delete_op(self, pk: str, sk: str, condition: str | None = None,
                  values: dict[str, Any] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Key": serialize(self.key(pk, sk))}
        if condition:
            op["ConditionExpression"] = condition
        if values:
            op["ExpressionAttributeValues"] = _values(values)
        return {"Delete": op}

    def check_op(self, pk: str, sk: str, condition: str, values: dict[str, Any] | None = None,
                 names: dict[str, str] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Key": serialize(self.key(pk, sk)),
                              "ConditionExpression": condition}
        if values:
            op["ExpressionAttributeValues"] = _values(values)
        if names:
            op["ExpressionAttributeNames"] = names
        return {"ConditionCheck": op}

    def transact(self, ops: list[dict[str, Any]]) -> None:
        """All-or-nothing write of up to 100 operations. Raises TransactionCancelled."""
        if not ops:
            return
        if len(ops) > 100:
            raise ValueError(f"a transaction holds at most 100 items, got {len(ops)}")
        self.request_count += 1
        try:
            self.client.transact_write_items(TransactItems=ops)
        except _client_error() as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                reasons = [r.get("Code") if r.get("Code") not in (None, "None") else None
                           for r in exc.response.get("CancellationReasons", [])]
                raise TransactionCancelled(exc.response["Error"].get("Message", "transaction cancelled"), reasons) from exc
            raise
