"""Explicit pyarrow schemas of the archived entities and the record <-> row conversions.

Every column is declared here (nothing is inferred from the data), so a day with odd values, or
no rows at all, writes the same schema. Field metadata ``ql.kind`` marks the columns whose
Arrow type alone does not say how to read them back:

* ``decimal-string``: an exact ``Decimal`` in plain notation (see the package docstring for why
  not decimal128);
* ``dynamodb-json``: a JSON string in DynamoDB's typed format (``{"M": {"k": {"N": "1.5"}}}``),
  for maps whose shape is open.

Instants are ``timestamp[ms, tz=UTC]`` (microseconds truncated). ``trade_date`` is not a column:
it is the hive partition (``trade_date=YYYY-MM-DD`` in the key). Schema versions live in the
schema metadata (``ql.schema_version``); a new model field must be added here (a test compares
every model field with these schemas and :data:`NOT_ARCHIVED`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pyarrow as pa
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from shared_utils.clock import UTC
from shared_utils.models.execution import Execution, OrderRecord, Position

#: "2": orders gained ``attempt`` and ``tick_size`` (a version-1 file reads back with the model's
#: defaults for them: see :func:`from_table`)
SCHEMA_VERSION = "2"
KIND = b"ql.kind"
DECIMAL_STRING = b"decimal-string"
DYNAMODB_JSON = b"dynamodb-json"

TIMESTAMP = pa.timestamp("ms", tz="UTC")

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _money(name: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, pa.string(), nullable=nullable, metadata={KIND: DECIMAL_STRING})


def _ddb_json(name: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, pa.string(), nullable=nullable, metadata={KIND: DYNAMODB_JSON})


def _s(name: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, pa.string(), nullable=nullable)


def _i32(name: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, pa.int32(), nullable=nullable)


def _i64(name: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, pa.int64(), nullable=nullable)


def _ts(name: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, TIMESTAMP, nullable=nullable)


def _meta_fields() -> list[pa.Field]:
    return [_ts("created_at", False), _ts("updated_at", False), _i64("version")]


def _schema(entity: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"ql.entity": entity, "ql.schema_version": SCHEMA_VERSION,
                                       "ql.partition": "trade_date (hive, IST trading date)"})


RESOLVED_LEG = pa.struct([
    _i32("leg_no"), _s("tradingsymbol"), _s("exchange"), _i64("instrument_token", True), _s("expiry"),
    _money("strike", False), _s("option_type"), _i32("lot_size"), _money("tick_size", False), _money("ltp"),
    _ddb_json("selection", False),
])

EXECUTION_RESULTS = pa.struct([
    _i32("successful_orders"), _i32("failed_orders"), _i32("unknown_orders"), _money("total_premium", False),
    pa.field("first_order_lag_ms", pa.float64()), pa.field("last_order_lag_ms", pa.float64()),
    pa.field("execution_time_ms", pa.float64()),
])

EXECUTIONS = _schema("executions", [
    _s("execution_id"), _s("user_id"), _s("strategy_id"), _s("basket_id", True), _s("execution_type"),
    _s("execution_time"), _ts("execute_at", False), _s("status"), _s("trigger"), _s("claimed_by"),
    _ts("claimed_at"), _ts("started_at"), _ts("completed_at"), _i32("total_legs"), _i32("total_lots"),
    pa.field("brokers_involved", pa.list_(pa.string()), nullable=False),
    pa.field("resolved_legs", pa.list_(RESOLVED_LEG), nullable=False),
    pa.field("reasons", pa.list_(pa.string()), nullable=False),
    pa.field("results", EXECUTION_RESULTS, nullable=False),
    *_meta_fields(),
])

FILL = pa.struct([_s("trade_id"), _i64("quantity"), _money("price", False), _ts("filled_at", False)])

ORDERS = _schema("orders", [
    _s("order_key"), _s("execution_id"), _s("user_id"), _s("strategy_id"), _s("client_id"), _s("broker"),
    _i32("leg_no"), _i32("slice_no"), _s("purpose"), _i32("attempt"), _s("tag"), _s("exchange"), _s("tradingsymbol"),
    _i64("instrument_token", True), _s("broker_tradingsymbol", True), _s("broker_token", True),
    _s("transaction_type"), _i32("lots"), _i32("lot_size"), _i64("quantity"), _s("product"), _s("order_type"),
    _money("price"), _money("trigger_price"), _money("ltp_at_decision"), _money("tick_size"), _s("status"), _s("broker_order_id", True),
    _i64("filled_quantity"), _money("average_price"),
    pa.field("fills", pa.list_(FILL), nullable=False),
    _s("broker_message", True), _s("error_kind", True), _ts("execute_at"), _ts("intent_at"), _ts("sent_at"),
    _ts("acked_at"), _s("parent_order_key", True), _ddb_json("status_history", False),
    pa.field("flags", pa.list_(pa.string()), nullable=False),
    *_meta_fields(),
])

POSITIONS = _schema("positions", [
    _s("user_id"), _s("strategy_id"), _s("client_id"), _s("tradingsymbol"), _s("exchange"), _i32("leg_no"),
    _s("product"), _i32("lot_size"), _i64("quantity"), _money("average_price", False), _money("realised_pnl", False),
    _money("ltp"), _i64("buy_quantity"), _i64("sell_quantity"), _money("buy_value", False),
    _money("sell_value", False), _s("entry_execution_id", True), _s("stop_loss_order_key", True), _s("status"),
    *_meta_fields(),
])

SCHEMAS: dict[str, pa.Schema] = {"executions": EXECUTIONS, "orders": ORDERS, "positions": POSITIONS}
MODELS: dict[str, type[BaseModel]] = {"executions": Execution, "orders": OrderRecord, "positions": Position}

#: Model fields deliberately not in the files: the partition column and hot-table housekeeping.
NOT_ARCHIVED: dict[str, frozenset[str]] = {
    "executions": frozenset({"trade_date", "expires_at", "entity_type"}),
    "orders": frozenset({"expires_at", "entity_type"}),
    "positions": frozenset({"entity_type"}),
}

#: Sort order of the rows in a file (stable files for a re-run; row groups cluster by user).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "executions": ("user_id", "execution_id"),
    "orders": ("user_id", "order_key"),
    "positions": ("user_id", "strategy_id", "client_id", "tradingsymbol"),
}


# ---- record -> row ------------------------------------------------------------------------------

def _truncate_ms(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be archived")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _plain(value: Any) -> Any:
    """A value DynamoDB JSON can hold (floats through str, like the table gateway)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python"))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _to_arrow(value: Any, field: pa.Field) -> Any:
    if value is None:
        return None
    kind = (field.metadata or {}).get(KIND)
    if kind == DECIMAL_STRING:
        return format(Decimal(value), "f")
    if kind == DYNAMODB_JSON:
        return json.dumps(_SERIALIZER.serialize(_plain(value)), sort_keys=True, separators=(",", ":"))
    t = field.type
    if pa.types.is_timestamp(t):
        return _truncate_ms(value)
    if pa.types.is_struct(t):
        data = value.model_dump(mode="python") if isinstance(value, BaseModel) else value
        return {t.field(i).name: _to_arrow(data.get(t.field(i).name), t.field(i)) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [_to_arrow(v, t.value_field) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def to_row(entity: str, record: BaseModel) -> dict[str, Any]:
    """One record as a row of ``SCHEMAS[entity]``."""
    data = dict(record)  # field name -> value (nested models kept as models)
    return {f.name: _to_arrow(data.get(f.name), f) for f in SCHEMAS[entity]}


def to_table(entity: str, records: list[BaseModel]) -> pa.Table:
    """The records of one entity as an Arrow table with the explicit schema, sorted."""
    schema = SCHEMAS[entity]
    rows = [to_row(entity, r) for r in records]
    rows.sort(key=lambda row: tuple(row[k] for k in SORT_KEYS[entity]))
    return pa.Table.from_pylist(rows, schema=schema)


# ---- row -> record ------------------------------------------------------------------------------

def _from_arrow(value: Any, field: pa.Field) -> Any:
    if value is None:
        return None
    kind = (field.metadata or {}).get(KIND)
    if kind == DECIMAL_STRING:
        return Decimal(value)
    if kind == DYNAMODB_JSON:
        return _DESERIALIZER.deserialize(json.loads(value))
    t = field.type
    if pa.types.is_struct(t):
        return {t.field(i).name: _from_arrow(value.get(t.field(i).name), t.field(i)) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [_from_arrow(v, t.value_field) for v in value]
    return value


def from_table(entity: str, table: pa.Table, trade_date: date) -> list[BaseModel]:
    """The records of an archived table (``trade_date`` from the partition).

    A column the file does not have (written under an older schema version) is left to the
    model's default."""
    schema = SCHEMAS[entity]
    present = set(table.column_names)
    schema = pa.schema([f for f in schema if f.name in present], metadata=schema.metadata)
    table = table.select(schema.names).cast(schema)
    model = MODELS[entity]
    out = []
    for row in table.to_pylist():
        data = {f.name: _from_arrow(row[f.name], f) for f in schema}
        if entity == "executions":
            data["trade_date"] = trade_date
        out.append(model.model_validate(data))
    return out
