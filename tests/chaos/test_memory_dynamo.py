"""The chaos harness's in-memory DynamoDB client answers like moto for what the platform does:
the same script of table operations (conditional puts, version checks, updates, prefix and GSI
queries with pages, batch reads, transactions that fail a condition) gives the same answers and
the same errors on both."""

from __future__ import annotations

import pytest

from shared_utils.persistence.table import ConditionFailed, DynamoTable, TransactionCancelled
from shared_utils.persistence.table_schema import create_table_kwargs


def _script(client) -> list:
    client.create_table(**create_table_kwargs("t"))
    table = DynamoTable("t", client)
    out: list = []

    def attempt(fn):
        try:
            out.append(("ok", fn()))
        except (ConditionFailed, TransactionCancelled) as exc:
            out.append((type(exc).__name__, getattr(exc, "reasons", None)))

    for i in range(7):
        attempt(lambda i=i: table.put({"user_id": "u", "sort_key": f"ORDER#e1#{i:02d}", "version": 1, "qty": i,
                                       "gsi3pk": f"ORDERTAG#T{i}", "tags": ["a", "b"], "m": {"x": 1}},
                                      condition="attribute_not_exists(sort_key)"))
    attempt(lambda: table.put({"user_id": "u", "sort_key": "ORDER#e1#03", "version": 2},
                              condition="attribute_not_exists(sort_key)"))
    attempt(lambda: table.put({"user_id": "u", "sort_key": "ORDER#e1#03", "version": 2, "qty": 30},
                              condition="version = :expected", values={":expected": 1}))
    attempt(lambda: table.put({"user_id": "u", "sort_key": "ORDER#e1#03", "version": 3},
                              condition="version = :expected", values={":expected": 1}))
    attempt(lambda: table.update("u", "ORDER#e1#04", "SET qty = qty + :one, note = :n REMOVE m",
                                 values={":one": 10, ":n": "hi", ":v": 1}, condition="version = :v"))
    attempt(lambda: table.update("u", "ORDER#e1#05", "SET #q = if_not_exists(absent_attr, :z) ADD cnt :one",
                                 values={":z": 0, ":one": 1}, names={"#q": "qty"}))
    attempt(lambda: table.put({"user_id": "P", "sort_key": "CONTROL#X", "slot_at": "2026-08-17T04:00:00.000Z"},
                              condition="attribute_not_exists(slot_at) OR slot_at < :new",
                              values={":new": "2026-08-17T04:00:00.000Z"}))
    attempt(lambda: table.put({"user_id": "P", "sort_key": "CONTROL#X", "slot_at": "2026-08-17T03:59:00.000Z"},
                              condition="attribute_not_exists(slot_at) OR slot_at < :new",
                              values={":new": "2026-08-17T03:59:00.000Z"}))
    out.append(("get", table.get("u", "ORDER#e1#03")))
    out.append(("get-missing", table.get("u", "nope")))
    pages, token = [], None
    while True:
        page = table.query("u", "ORDER#e1#", limit=3, next_token=token)
        pages.append([i["sort_key"] for i in page.items])
        token = page.next_token
        if not token:
            break
    out.append(("pages", pages))
    out.append(("reverse", [i["sort_key"] for i in table.query("u", "ORDER#", forward=False).items]))
    out.append(("gsi", table.query("ORDERTAG#T2", index="OrdersByTag", pk_name="gsi3pk").items))
    out.append(("batch", sorted(i["sort_key"] for i in table.batch_get([("u", "ORDER#e1#01"), ("u", "ORDER#e1#09"),
                                                                         ("u", "ORDER#e1#02")]))))
    attempt(lambda: table.transact([
        table.put_op({"user_id": "u", "sort_key": "POSITION#1", "qty": 5}, condition="attribute_not_exists(sort_key)"),
        table.check_op("u", "ORDER#e1#01", "version = :v", values={":v": 9}),
    ]))
    out.append(("not-written", table.get("u", "POSITION#1")))
    attempt(lambda: table.transact([
        table.put_op({"user_id": "u", "sort_key": "POSITION#1", "qty": 5}, condition="attribute_not_exists(sort_key)"),
        table.delete_op("u", "ORDER#e1#06", condition="version = :v", values={":v": 1}),
    ]))
    out.append(("written", table.get("u", "POSITION#1"), table.get("u", "ORDER#e1#06")))
    attempt(lambda: table.delete("u", "ORDER#e1#00", condition="version = :v", values={":v": 5}))
    return out


def test_memory_client_answers_like_moto(aws):
    import boto3

    from tests.chaos.memory_dynamo import MemoryDynamoDB

    on_moto = _script(boto3.client("dynamodb", region_name="ap-south-1"))
    in_memory = _script(MemoryDynamoDB())
    assert in_memory == on_moto


def test_unsupported_expression_is_an_error_not_a_silent_pass():
    from tests.chaos.memory_dynamo import MemoryDynamoDB

    client = MemoryDynamoDB()
    client.create_table(**create_table_kwargs("t"))
    with pytest.raises(client.exceptions.ValidationException, match="Invalid ConditionExpression"):
        client.put_item(TableName="t", Item={"user_id": {"S": "u"}, "sort_key": {"S": "s"}},
                        ConditionExpression="version === :v", ExpressionAttributeValues={":v": {"N": "1"}})
