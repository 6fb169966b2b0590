"""P&L across days (a short carried overnight), days read back from the Parquet archive beyond
the hot window through the one query module, and the performance metrics by hand."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from shared_utils.analytics.service import AnalyticsService
from shared_utils.archive.daily import collect_day
from shared_utils.archive.writer import write_day
from shared_utils.clock import IST, UTC, FixedClock, default_clock, set_default_clock
from shared_utils.models.enums import OrderPurpose, OrderStatus, OrderType, Product, TransactionType
from shared_utils.models.execution import Fill, OrderRecord
from shared_utils.persistence import keys
from shared_utils.persistence.table_schema import SORT_KEY

BUCKET = "ql-algo-trading-local-archive-h18"
SYMBOL = "NIFTY2681824900PE"


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=IST).astimezone(UTC)


def order(day: date, side: str, qty: int, price: str, *, user="user-a", strategy="stg_alpha", client="ZERODHA123",
          broker="zerodha", exit_=False) -> OrderRecord:
    kind = "X" if exit_ else "E"
    execution_id = f"{strategy}.{day:%Y%m%d}.{kind}"
    purpose = OrderPurpose.EXIT if exit_ else OrderPurpose.ENTRY
    key = keys.order_sk(execution_id, client, 1, 0, purpose)
    at = _at(day, 15, 20) if exit_ else _at(day, 9, 30)
    return OrderRecord(order_key=key, execution_id=execution_id, user_id=user, strategy_id=strategy, client_id=client,
                       broker=broker, leg_no=1, purpose=purpose, tag=keys.order_tag(key), exchange="NFO",
                       tradingsymbol=SYMBOL, transaction_type=TransactionType(side), lots=qty // 65, lot_size=65,
                       quantity=qty, product=Product.NRML, order_type=OrderType.LIMIT, price=Decimal(price),
                       status=OrderStatus.FILLED, filled_quantity=qty, average_price=Decimal(price),
                       fills=[Fill(trade_id=f"T{day:%d}{kind}", quantity=qty, price=Decimal(price), filled_at=at)],
                       execute_at=at, intent_at=at, sent_at=at, acked_at=at,
                       status_history=[{"at": at.isoformat(), "from": "PENDING", "to": "FILLED"}])


@pytest.fixture
def clock():
    previous = default_clock()
    fixed = FixedClock(datetime(2026, 8, 14, 16, 0, tzinfo=IST))
    set_default_clock(fixed)
    yield fixed
    set_default_clock(previous)


def test_a_short_carried_overnight_realises_on_the_closing_day(repos, api, clock):
    thursday, friday = date(2026, 8, 13), date(2026, 8, 14)
    for o in (order(thursday, "SELL", 65, "50.00"), order(friday, "BUY", 65, "40.00", exit_=True)):
        repos.orders.record_intent(o)
    status, thu = api("GET", "/options/reports/daily", query={"date": "2026-08-13"})
    assert status == 200
    (row,) = thu["accounts"]
    # Thursday: no P&L realised yet; charges of the sell: 20 brokerage, STT 0.1% of 3250 = 3.25 -> Rs 3
    assert row["gross"] == "0.00" and row["charges"]["brokerage"] == "20.00" and row["charges"]["stt"] == "3.00"
    status, fri = api("GET", "/options/reports/daily", query={"date": "2026-08-14"})
    (row,) = fri["accounts"]
    assert row["gross"] == "650.00"  # (50 - 40) x 65, booked on the closing day
    assert row["charges"]["stt"] == "0.00" and row["charges"]["stamp_duty"] == "0.08"  # 0.003% of 2600 = 0.078
    status, perf = api("GET", "/options/performance", query={"from_date": "2026-08-13", "to_date": "2026-08-14"})
    assert [d["date"] for d in perf["per_day"]] == ["2026-08-13", "2026-08-14"]
    assert Decimal(perf["per_day"][0]["net"]) < 0 < Decimal(perf["per_day"][1]["net"])
    assert perf["win_rate"] == "0.5000" and perf["max_drawdown"] == str(-Decimal(perf["per_day"][0]["net"]))


def test_old_days_come_from_the_archive_through_the_one_query_module(repos, api, clock, env_config, monkeypatch):
    old = date(2026, 7, 1)
    s3 = boto3.client("s3", region_name="ap-south-1")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", BUCKET)
    for o in (order(old, "SELL", 130, "100.00"), order(old, "BUY", 130, "90.00", exit_=True),
              order(old, "SELL", 65, "10.00", user="user-b", strategy="stg_beta")):
        repos.orders.record_intent(o)
    write_day(s3, BUCKET, collect_day(repos.table, old))
    # weeks later the hot items have expired (simulated: deleted)
    hot_days = env_config.settings.execution_engine.hot_item_ttl_days
    clock.set(datetime.combine(old + timedelta(days=hot_days + 5), datetime.min.time(), tzinfo=IST).replace(hour=10))
    ddb = boto3.client("dynamodb", region_name="ap-south-1")
    for item in ddb.scan(TableName=env_config.table_name)["Items"]:
        if item[SORT_KEY]["S"].startswith("ORDER#"):
            ddb.delete_item(TableName=env_config.table_name, Key={"user_id": item["user_id"], SORT_KEY: item[SORT_KEY]})
    # a recent order stays in the table
    recent = clock.now().astimezone(IST).date()
    repos.orders.record_intent(order(recent, "SELL", 65, "20.00"))

    status, report = api("GET", "/options/reports/daily", query={"date": old.isoformat()})
    assert status == 200, report
    (row,) = report["accounts"]
    assert row["gross"] == "1300.00" and row["executed_orders"] == 2  # (100 - 90) x 130
    status, page = api("GET", "/options/orders", query={"from_date": old.isoformat(), "to_date": recent.isoformat()})
    assert status == 200
    assert sorted(i["trade_date"] for i in page["items"]) == [old.isoformat()] * 2 + [recent.isoformat()]
    # one archived order by its id, with the trade date the listing gave
    archived_id = next(i["order_id"] for i in page["items"] if i["trade_date"] == old.isoformat())
    assert api("GET", f"/options/orders/{archived_id}")[0] == 404  # not in the table any more
    status, detail = api("GET", f"/options/orders/{archived_id}", query={"trade_date": old.isoformat()})
    assert status == 200 and detail["order"]["fills"] and detail["trade_date"] == old.isoformat()
    assert api("GET", f"/options/orders/{archived_id}", query={"trade_date": old.isoformat()}, user="user-b")[0] == 404
    # the archive holds every user's day: only the caller's rows come back
    status, other = api("GET", "/options/orders", query={"from_date": old.isoformat(), "to_date": old.isoformat()},
                        user="user-b")
    assert [i["order"]["strategy_id"] for i in other["items"]] == ["stg_beta"]


def test_metrics_by_hand():
    days = [date(2026, 8, d) for d in (3, 4, 5, 6, 7)]
    nets = [Decimal("1000"), Decimal("-1500"), Decimal("200"), Decimal("-300"), Decimal("2500")]
    m = AnalyticsService.metrics(list(zip(days, nets)))
    # cumulative 1000, -500, -300, -600, 1900: peak 1000, deepest -600 -> drawdown 1600
    assert m["total_net"] == "1900.00" and m["max_drawdown"] == "1600.00"
    assert (m["winning_days"], m["losing_days"], m["win_rate"]) == (3, 2, "0.6000")
    assert m["average_win"] == "1233.33" and m["average_loss"] == "-900.00"
    assert m["best_day"] == {"date": "2026-08-07", "net": "2500.00"}
    assert m["worst_day"] == {"date": "2026-08-04", "net": "-1500.00"}
    empty = AnalyticsService.metrics([])
    assert empty["win_rate"] is None and empty["max_drawdown"] == "0.00"
