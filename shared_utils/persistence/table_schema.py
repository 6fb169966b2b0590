"""The single table's key schema and indexes, defined ONCE.

Used by the CDK stack (``cdk_stacks/options_platform_stack.py``), by the local platform when it
creates the table on the moto server, and by the tests. ``create_table_kwargs()`` is the boto3
``create_table`` request; ``cdk_*`` helpers give the same facts in the shape CDK wants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PARTITION_KEY = "user_id"
SORT_KEY = "sort_key"


@dataclass(frozen=True)
class IndexDef:
    name: str
    partition_key: str
    sort_key: str | None
    projection: str  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    non_key_attributes: tuple[str, ...] = field(default=())


GSI1 = IndexDef("AllocationsByStrategy", "gsi1pk", "gsi1sk", "ALL")

#: What the emitter filters on, projected so one GSI2 Query answers without base-table reads.
GSI2_PROJECTED = (
    "strategy_id",
    "basket_id",
    "execution_type",
    "schedule_time",
    "days",
    "dte_min",
    "dte_max",
    "underlying",
    "product",
    "entity_type",
)
GSI2 = IndexDef("ExecutionSchedule", "gsi2pk", "gsi2sk", "INCLUDE", GSI2_PROJECTED)

GSI3 = IndexDef("OrdersByTag", "gsi3pk", None, "ALL")

INDEXES: tuple[IndexDef, ...] = (GSI1, GSI2, GSI3)

#: TTL attribute (epoch seconds) for hot execution/order items archived to Parquet.
TTL_ATTRIBUTE = "expires_at"


def attribute_definitions() -> list[dict[str, str]]:
    names = [PARTITION_KEY, SORT_KEY]
    for index in INDEXES:
        names.append(index.partition_key)
        if index.sort_key:
            names.append(index.sort_key)
    return [{"AttributeName": n, "AttributeType": "S"} for n in dict.fromkeys(names)]


def _gsi_request(index: IndexDef) -> dict:
    key_schema = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
    if index.sort_key:
        key_schema.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
    projection: dict = {"ProjectionType": index.projection}
    if index.projection == "INCLUDE":
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {"IndexName": index.name, "KeySchema": key_schema, "Projection": projection}


def create_table_kwargs(table_name: str) -> dict:
    """The boto3 ``create_table`` request for the single table (on-demand, streams on)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [_gsi_request(i) for i in INDEXES],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


# ---- broker accounts table (auth-broker stack) ---------------------------------------------

BROKER_ACCOUNTS_PARTITION_KEY = "user_id"
BROKER_ACCOUNTS_SORT_KEY = "client_id"
BROKER_ACCOUNTS_BY_CLIENT = IndexDef("AccountsByClientId", "client_id", None, "ALL")


def broker_accounts_create_table_kwargs(table_name: str) -> dict:
    """The boto3 ``create_table`` request for the broker accounts table."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": BROKER_ACCOUNTS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": BROKER_ACCOUNTS_SORT_KEY, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": BROKER_ACCOUNTS_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": BROKER_ACCOUNTS_SORT_KEY, "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [_gsi_request(BROKER_ACCOUNTS_BY_CLIENT)],
    }
