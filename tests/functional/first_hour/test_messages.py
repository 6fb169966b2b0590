"""Issue 21 item 6: messages that say what to do - weekday forms, weekend-only days, holiday names,
manual runs refused at the call with the reason (instead of 202 then SKIPPED)."""

from datetime import datetime

import pytest

from shared_utils.clock import IST, FixedClock, default_clock, set_default_clock
from shared_utils.execution.events import EXECUTION_DUE, InMemoryPublisher, set_default_publisher
from tests.conftest import seed_request
from tests.functional.api.journey import complete_legs, run_journey


@pytest.fixture
def at():
    """``at(datetime)`` sets the process clock; an in-memory bus takes the manual events."""
    previous = default_clock()
    publisher = InMemoryPublisher()
    set_default_publisher(publisher)

    def _set(when):
        set_default_clock(FixedClock(when))
        return publisher

    yield _set
    set_default_clock(previous)
    set_default_publisher(None)


def _strategy_body(**over):
    return dict(seed_request("02_create_strategy.json")["body"], **over)


def test_entry_days_error_lists_every_accepted_form(api):
    status, body = api("POST", "/options/strategies", _strategy_body(entry_days=["FUNDAY"]))
    assert status == 422, body
    (detail,) = [d for d in body["detail"] if d["loc"][:2] == ["body", "entry_days"]]
    assert detail["loc"] == ["body", "entry_days", 0]
    for form in ("MON", "FRI", "SUN", "MONDAY", "SUNDAY", "any case"):
        assert form in detail["msg"], detail["msg"]
    assert "'FUNDAY'" in detail["msg"]
    status, body = api("POST", "/options/strategies", _strategy_body(entry_days=["mon", "Wed"]))
    assert status == 201 and body["entry_days"] == ["MONDAY", "WEDNESDAY"], body


def test_a_strategy_that_can_never_trade_is_warned_about(api):
    status, body = api("POST", "/options/strategies", _strategy_body(entry_days=["SAT"], exit_days=["SUNDAY"]))
    assert status == 201, body
    status, detail = api("GET", f"/options/strategies/{body['strategy_id']}")
    assert status == 200
    warnings = " | ".join(detail["warnings"])
    assert "entry_days SATURDAY" in warnings and "never enters" in warnings, warnings
    assert "exit_days SUNDAY" in warnings, warnings
    status, body = api("POST", "/options/strategies", _strategy_body())  # MONDAY / FRIDAY: no such warning
    assert not any("weekend" in w for w in api("GET", f"/options/strategies/{body['strategy_id']}")[1]["warnings"])


def test_schedule_on_a_holiday_names_the_holiday(api):
    _, strategy_id = run_journey(api, link=api.link)
    complete_legs(api, strategy_id)
    api("PUT", f"/options/strategies/{strategy_id}", {"entry_days": ["FRIDAY"], "exit_days": ["FRIDAY"],
                                                     "exit_time": "15:20"})
    status, view = api("GET", "/options/executions/schedule", query={"date": "2026-10-02", "type": "entry"})
    assert status == 200 and view["trading_day"] is False
    (row,) = view["items"]
    assert row["due"] is False
    assert row["reasons"][0] == "2026-10-02 is not a trading day (Mahatma Gandhi Jayanti, NSE holiday)", row
    (row,) = api("GET", "/options/executions/schedule", query={"date": "2026-08-15", "type": "entry"})[1]["items"]
    assert "(SATURDAY)" in row["reasons"][0], row


def test_manual_entry_that_cannot_run_is_refused_at_the_call(api, at):
    bus = at(datetime(2026, 8, 17, 11, 5, tzinfo=IST))
    # no legs, no allocation
    status, strategy = api("POST", "/options/strategies", _strategy_body())
    sid = strategy["strategy_id"]
    status, body = api("POST", "/options/executions/manual", {"strategy_id": sid, "execution_type": "entry"})
    assert status == 409, body
    assert "cannot run now" in body["message"]
    assert "no legs: add at least one leg" in body["reasons"]
    assert any("no active allocation" in r for r in body["reasons"]), body
    assert bus.drain(EXECUTION_DUE) == []
    assert api("GET", "/options/executions/history")[1]["items"] == []
    # a complete strategy, on a holiday: the holiday's name
    _, ready = run_journey(api, link=api.link)
    complete_legs(api, ready)
    at(datetime(2026, 10, 2, 11, 5, tzinfo=IST))
    status, body = api("POST", "/options/executions/manual", {"strategy_id": ready, "execution_type": "entry"})
    assert status == 409 and any("Mahatma Gandhi Jayanti" in r for r in body["reasons"]), body
    # outside the session
    at(datetime(2026, 8, 17, 16, 0, tzinfo=IST))
    status, body = api("POST", "/options/executions/manual", {"strategy_id": ready, "execution_type": "exit"})
    assert status == 409 and any("outside the trading session" in r for r in body["reasons"]), body
    # and when it can run: 202 as before
    bus = at(datetime(2026, 8, 17, 11, 5, tzinfo=IST))
    status, body = api("POST", "/options/executions/manual", {"strategy_id": ready, "execution_type": "entry"})
    assert status == 202 and body["status"] == "ANNOUNCED", body
    assert len(bus.drain(EXECUTION_DUE)) == 1
