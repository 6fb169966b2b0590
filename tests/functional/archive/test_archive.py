"""The daily Parquet archive: a day reads back (pyarrow) to exactly that day's records, the
archived hot items get their TTL, and the history route serves an old day from the archive.

Records are written with the repositories to moto DynamoDB, the archiver handler runs against
moto S3, and the objects are read back with pyarrow and compared field by field. Instants are
compared at millisecond precision: the archive's ``timestamp[ms, tz=UTC]`` truncates
microseconds (documented in ``shared_utils.archive``); everything else must be equal.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from local.apigw import FakeLambdaContext
from shared_utils.archive import layout
from shared_utils.archive.daily import expiry_epoch
from shared_utils.archive.schemas import MODELS, NOT_ARCHIVED, SCHEMAS, from_table, to_row
from shared_utils.clock import IST, UTC, FixedClock, default_clock, set_default_clock
from shared_utils.models.enums import ExecutionStatus, ExecutionType, OrderStatus, OrderType, Product, TransactionType
from shared_utils.models.execution import Execution, ExecutionResults, Fill, OrderRecord, Position
from shared_utils.models.leg import ResolvedLeg
from shared_utils.persistence import keys
from shared_utils.persistence.table_schema import SORT_KEY, TTL_ATTRIBUTE

DAY = date(2026, 8, 17)
OTHER_DAY = date(2026, 8, 18)
BUCKET = "ql-algo-trading-local-archive-test"


def at_ms(value):
    """``value`` with every datetime truncated to milliseconds (the archive's precision)."""
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, BaseModel):
        return value.model_copy(update={k: at_ms(v) for k, v in value})
    if isinstance(value, list):
        return [at_ms(v) for v in value]
    if isinstance(value, dict):
        return {k: at_ms(v) for k, v in value.items()}
    return value


def _instant(day: date, hh: int, mm: int, s: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, s, us, tzinfo=IST).astimezone(UTC)


def _execution(user: str, strategy: str, day: date, kind=ExecutionType.ENTRY, **extra) -> Execution:
    fields = dict(
        execution_id=keys.execution_id(strategy, kind, day), user_id=user, strategy_id=strategy, basket_id="bkt_1",
        execution_type=kind, trade_date=day, execution_time="09:30", execute_at=_instant(day, 9, 30),
        status=ExecutionStatus.COMPLETED, claimed_by="arn:aws:states:ap-south-1:1:express:sm:run-1",
        claimed_at=_instant(day, 9, 28, 1, 123456), started_at=_instant(day, 9, 29, 58, 1000),
        completed_at=_instant(day, 9, 30, 2, 999999), total_legs=2, total_lots=3, brokers_involved=["paper", "angel"],
        resolved_legs=[ResolvedLeg(leg_no=1, tradingsymbol="NIFTY26AUG24500CE", exchange="NFO", instrument_token=12345,
                                   expiry="2026-08-27", strike=Decimal("24500"), option_type="CE", lot_size=65,
                                   tick_size=Decimal("0.05"), ltp=Decimal("101.05"),
                                   selection={"method": "DELTA", "target": Decimal("0.3"), "chosen_delta": Decimal("0.2987"),
                                              "candidates": [Decimal(24400), Decimal(24500)], "note": None})],
        reasons=["ANGELONE456: margin short by ₹1,200.50"],
        results=ExecutionResults(successful_orders=3, failed_orders=1, total_premium=Decimal("-6568.25"),
                                 first_order_lag_ms=12.5, last_order_lag_ms=48.25, execution_time_ms=1020.0),
    )
    return Execution(**{**fields, **extra})


def _order(execution: Execution, client: str, leg: int, attempt: int = 0, **extra) -> OrderRecord:
    key = keys.order_sk(execution.execution_id, client, leg, 0, "ENTRY", attempt)
    fields = dict(
        order_key=key, execution_id=execution.execution_id, user_id=execution.user_id,
        strategy_id=execution.strategy_id, client_id=client, broker="paper", leg_no=leg, attempt=attempt,
        tag=keys.order_tag(key),
        exchange="NFO", tradingsymbol="NIFTY26AUG24500CE", instrument_token=12345, broker_token="55123",
        transaction_type=TransactionType.SELL, lots=2, lot_size=65, quantity=130, product=Product.NRML,
        order_type=OrderType.LIMIT, price=Decimal("100.95"), ltp_at_decision=Decimal("101.05"),
        tick_size=Decimal("0.05"), status=OrderStatus.FILLED, broker_order_id="P-1", filled_quantity=130, average_price=Decimal("100.975"),
        fills=[Fill(trade_id="T1", quantity=65, price=Decimal("100.95"), filled_at=_instant(execution.trade_date, 9, 30, 0, 40123)),
               Fill(trade_id="T2", quantity=65, price=Decimal("101.00"), filled_at=_instant(execution.trade_date, 9, 30, 1))],
        execute_at=execution.execute_at, intent_at=_instant(execution.trade_date, 9, 29, 59, 900000),
        sent_at=_instant(execution.trade_date, 9, 30, 0, 12345), acked_at=_instant(execution.trade_date, 9, 30, 0, 90001),
        status_history=[{"status": "OPEN", "at": "2026-08-17T04:00:00.012345+00:00", "filled": Decimal(0)},
                        {"status": "FILLED", "at": "2026-08-17T04:00:01+00:00", "filled": Decimal(130)}],
    )
    return OrderRecord(**{**fields, **extra})


def _position(user: str, strategy: str, client: str, symbol: str, updated: datetime, open_: bool) -> Position:
    p = Position(user_id=user, strategy_id=strategy, client_id=client, tradingsymbol=symbol, exchange="NFO", leg_no=1,
                 product=Product.NRML, lot_size=65, created_at=updated - timedelta(hours=1), updated_at=updated)
    p.apply_fill(TransactionType.SELL, 195, Decimal("100.95"))
    if not open_:
        p.apply_fill(TransactionType.BUY, 195, Decimal("97.10"))
    p.ltp = Decimal("98.35")
    p.updated_at = updated
    return p


@pytest.fixture
def archive_env(repos, monkeypatch):
    """Moto S3 bucket named by ARCHIVE_BUCKET_NAME and a fixed clock."""
    s3 = boto3.client("s3", region_name="ap-south-1")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", BUCKET)
    previous = default_clock()
    clock = FixedClock(_instant(DAY, 16, 30))
    set_default_clock(clock)
    yield s3, clock
    set_default_clock(previous)


def seed_day(repos) -> dict[str, list]:
    """Two users' records of DAY, plus records of OTHER_DAY that must not be archived with it.
    Returns what the repositories read back (the stored form) per entity, for DAY only."""
    e1 = _execution("user-a", "stg_alpha", DAY)
    e2 = _execution("user-a", "stg_alpha", DAY, ExecutionType.EXIT, execution_time="15:15", execute_at=_instant(DAY, 15, 15),
                    status=ExecutionStatus.PARTIAL,
                    trigger="STOP_LOSS", basket_id=None, completed_at=None)
    e3 = _execution("user-b", "stg_beta", DAY, status=ExecutionStatus.SKIPPED, resolved_legs=[], brokers_involved=[],
                    results=ExecutionResults())
    other = _execution("user-a", "stg_alpha", OTHER_DAY)
    for e in (e1, e2, e3, other):
        assert repos.executions.claim(e) is not None
    orders = [_order(e1, "ANGELONE456", 1), _order(e1, "PAPER1", 2, attempt=1, status=OrderStatus.REJECTED, filled_quantity=0,
                                                        average_price=None, fills=[], broker_message="RMS: margin",
                                                        error_kind="REJECTED", price=None, order_type=OrderType.MARKET),
              _order(e3, "PAPER9", 1, sent_at=None, acked_at=None, status=OrderStatus.PENDING, fills=[], status_history=[]),
              _order(other, "ANGELONE456", 1)]
    for o in orders:
        assert repos.orders.record_intent(o)[1]
    positions = [
        _position("user-a", "stg_alpha", "ANGELONE456", "NIFTY26AUG24500CE", _instant(DAY, 9, 30, 2), open_=True),
        _position("user-a", "stg_alpha", "PAPER1", "NIFTY26AUG24600CE", _instant(DAY, 15, 16), open_=False),
        _position("user-b", "stg_beta", "PAPER9", "NIFTY26AUG24000PE", _instant(DAY - timedelta(days=3), 15, 16), open_=False),
    ]
    for p in positions:
        repos.positions.create(p)
    stored = {
        "executions": [repos.executions.get(e.user_id, e.strategy_id, e.execution_type, DAY) for e in (e1, e2, e3)],
        "orders": [repos.orders.get(o.user_id, o.order_key) for o in orders[:3]],
        "positions": [repos.positions.get(p.user_id, p.strategy_id, p.client_id, p.tradingsymbol) for p in positions[:2]],
    }
    return stored


def run_archiver(trade_date: date | None = None) -> dict:
    from lambda_functions.execution_engine import archiver

    event = {"time": _instant(trade_date or DAY, 16, 30).strftime("%Y-%m-%dT%H:%M:%SZ"), "detail-type": "Scheduled Event"}
    return archiver.handler(event, FakeLambdaContext())


def _read(s3, entity: str, day: date) -> pa.Table:
    body = s3.get_object(Bucket=BUCKET, Key=layout.day_key(entity, day))["Body"].read()
    return pq.read_table(io.BytesIO(body))


def test_a_day_reads_back_to_exactly_its_records(repos, archive_env):
    s3, _ = archive_env
    stored = seed_day(repos)
    result = run_archiver()
    assert {e: w["rows"] for e, w in result["written"].items()} == {"executions": 3, "orders": 3, "positions": 2}
    for entity, expected in stored.items():
        table = _read(s3, entity, DAY)
        assert table.schema.remove_metadata().equals(SCHEMAS[entity].remove_metadata(), check_metadata=False), entity
        assert table.num_rows == len(expected)
        got = {_identity(entity, r): r for r in from_table(entity, table, DAY)}
        want = {_identity(entity, r): at_ms(r) for r in expected}
        assert got.keys() == want.keys(), entity
        for ident, record in want.items():
            for name in type(record).model_fields:
                if name in NOT_ARCHIVED[entity] and name != "trade_date":
                    continue
                assert getattr(got[ident], name) == getattr(record, name), (entity, ident, name)


def test_money_is_exact_strings_and_times_are_utc_milliseconds(repos, archive_env):
    s3, _ = archive_env
    seed_day(repos)
    run_archiver()
    orders = _read(s3, "orders", DAY)
    assert orders.schema.field("price").type == pa.string()
    assert orders.schema.field("price").metadata == {b"ql.kind": b"decimal-string"}
    assert orders.schema.field("sent_at").type == pa.timestamp("ms", tz="UTC")
    assert orders.schema.field("fills").type.value_type.field("price").type == pa.string()
    row = [r for r in orders.to_pylist() if r["client_id"] == "ANGELONE456"][0]
    assert row["average_price"] == "100.975" and row["price"] == "100.95"
    assert row["sent_at"] == datetime(2026, 8, 17, 4, 0, 0, 12000, tzinfo=UTC)  # 12.345 ms -> 12 ms
    assert "trade_date" not in orders.schema.names  # the hive partition


def test_hive_partitions_read_as_a_dataset(repos, archive_env, tmp_path):
    s3, _ = archive_env
    seed_day(repos)
    run_archiver()
    run_archiver(OTHER_DAY)
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="archive/")["Contents"]:
        path = tmp_path / obj["Key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
    dataset = ds.dataset(tmp_path / "archive" / "entity=executions", format="parquet",
                         partitioning=ds.partitioning(pa.schema([("trade_date", pa.date32())]), flavor="hive"))
    table = dataset.to_table(filter=ds.field("trade_date") == DAY)
    assert sorted(table.column("execution_id").to_pylist()) == sorted(
        ["stg_alpha.20260817.E", "stg_alpha.20260817.X", "stg_beta.20260817.E"])
    assert dataset.to_table(filter=ds.field("trade_date") == OTHER_DAY).num_rows == 1


def test_archived_items_get_the_ttl_open_positions_do_not(repos, archive_env, env_config):
    seed_day(repos)
    result = run_archiver()
    hot_days = env_config.settings.execution_engine.hot_item_ttl_days
    expected = int(datetime(2026, 8, 17, tzinfo=IST).timestamp()) + hot_days * 86400
    assert result["expires_at"] == expected == expiry_epoch(DAY, hot_days)
    assert result["expired_items"] == 3 + 3 + 1
    raw = boto3.client("dynamodb", region_name="ap-south-1").scan(TableName=env_config.table_name)["Items"]
    by_sk = {i[SORT_KEY]["S"]: i for i in raw}
    for sk, item in by_sk.items():
        ttl = int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None
        if "20260817" in sk and (sk.startswith("EXECUTION") or sk.startswith("ORDER")):
            assert ttl == expected, sk
        elif "20260818" in sk:
            assert ttl is None, sk  # another day: not archived, not expired
    positions = {sk: i for sk, i in by_sk.items() if sk.startswith("POSITION#")}
    assert TTL_ATTRIBUTE not in positions["POSITION#stg_alpha#ANGELONE456#NIFTY26AUG24500CE"]  # OPEN
    assert int(positions["POSITION#stg_alpha#PAPER1#NIFTY26AUG24600CE"][TTL_ATTRIBUTE]["N"]) == expected
    assert TTL_ATTRIBUTE not in positions["POSITION#stg_beta#PAPER9#NIFTY26AUG24000PE"]  # closed another day
    # the records still load (version untouched) and a re-run is idempotent
    assert repos.executions.get("user-a", "stg_alpha", ExecutionType.ENTRY, DAY).version == 1
    assert run_archiver()["written"]["orders"]["rows"] == 3


def test_history_route_serves_an_old_day_from_the_archive(repos, archive_env, api, env_config):
    s3, clock = archive_env
    seed_day(repos)
    run_archiver()
    hot_days = env_config.settings.execution_engine.hot_item_ttl_days
    # Weeks later: TTL has removed the day's items from the table (simulated: delete them).
    clock.set(_instant(DAY + timedelta(days=hot_days + 5), 10, 0))
    ddb = boto3.client("dynamodb", region_name="ap-south-1")
    for item in ddb.scan(TableName=env_config.table_name)["Items"]:
        if "20260817" in item[SORT_KEY]["S"]:
            ddb.delete_item(TableName=env_config.table_name, Key={"user_id": item["user_id"], SORT_KEY: item[SORT_KEY]})
    assert repos.executions.get("user-a", "stg_alpha", ExecutionType.ENTRY, DAY) is None

    status, body = api("GET", "/options/executions/history", query={"from_date": "2026-08-01"})
    assert status == 200, body
    ids = [e["execution_id"] for e in body["items"]]
    # user-a's two executions of DAY come from the archive, OTHER_DAY's entry from the table
    assert ids == ["stg_alpha.20260818.E", "stg_alpha.20260817.X", "stg_alpha.20260817.E"]
    archived = body["items"][2]
    assert archived["status"] == "COMPLETED" and archived["trade_date"] == "2026-08-17"
    assert archived["results"]["total_premium"] in ("-6568.25", -6568.25)

    status, body = api("GET", "/options/executions/history",
                       query={"from_date": "2026-08-01", "to_date": "2026-08-17", "type": "exit"})
    assert [e["execution_id"] for e in body["items"]] == ["stg_alpha.20260817.X"]
    status, body = api("GET", "/options/executions/history", query={"from_date": "2026-08-01"}, user="user-b")
    assert [e["execution_id"] for e in body["items"]] == ["stg_beta.20260817.E"]
    # without a from_date older than the hot window, only the table answers
    status, body = api("GET", "/options/executions/history")
    assert [e["execution_id"] for e in body["items"]] == ["stg_alpha.20260818.E"]


def test_every_model_field_is_archived_or_deliberately_left_out():
    for entity, schema in SCHEMAS.items():
        fields = set(MODELS[entity].model_fields)
        assert set(schema.names) | NOT_ARCHIVED[entity] == fields, entity
        assert not set(schema.names) & NOT_ARCHIVED[entity]


def test_a_file_of_schema_version_1_reads_back_with_the_defaults_of_the_later_fields():
    """Version 2 added orders.attempt and orders.tick_size; a version-1 file has neither column."""
    record = _order(_execution("user-a", "stg_alpha", DAY), "PAPER1", 1)
    row = {k: v for k, v in to_row("orders", record).items() if k not in ("attempt", "tick_size")}
    v1 = pa.schema([f for f in SCHEMAS["orders"] if f.name in row])
    (got,) = from_table("orders", pa.Table.from_pylist([row], schema=v1), DAY)
    assert got.attempt == 0 and got.tick_size is None
    assert got.order_key == record.order_key and got.average_price == record.average_price


def _identity(entity: str, record) -> str:
    if entity == "executions":
        return record.execution_id
    if entity == "orders":
        return record.order_key
    return f"{record.user_id}/{record.strategy_id}/{record.client_id}/{record.tradingsymbol}"
