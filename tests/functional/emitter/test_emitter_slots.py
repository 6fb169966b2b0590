"""Issue 13 item 13: the emitter announces by the tick's SCHEDULED time, catches up slots no
tick handled (EXIT late, ENTRY recorded skipped with the reason), and a refused PutEvents entry
neither drops the batches after it nor goes unreported."""

from datetime import date, datetime

from shared_utils.clock import IST, utc_iso_ms
from shared_utils.execution.emitter import read_marker, run_emitter
from shared_utils.execution.events import EXECUTION_DUE, ORDER_ALERT, EventBridgePublisher
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionStatus, ExecutionType

DAY = date(2026, 8, 17)


def at(hhmm: str, second: int = 0) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 8, 17, hours, minutes, second, tzinfo=IST)


def due(engine, execution_type=None):
    events = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE)]
    return [e for e in events if execution_type is None or e["execution_type"] == execution_type]


def test_a_tick_delivered_57_s_late_announces_its_own_slot(engine, seed_strategy):
    """Scheduler fired the 09:28 tick at 09:28:03 but the Lambda ran at 09:29:00: the slot is
    09:30 (the event's time + 2 min), not 09:31 (the wall clock's)."""
    engine.clock.set(at("09:29", 0))
    result = run_emitter(engine, scheduled_at="2026-08-17T03:58:03Z")
    (event,) = due(engine)
    assert result.slot == "09:30" and event["slot"] == "09:30"
    assert event["execute_at"] == "2026-08-17T04:00:00.000Z"
    assert event["strategies"] == [{"user_id": "user-a", "strategy_id": seed_strategy[1]}]


def test_a_missed_exit_slot_is_announced_late_and_exits(engine, seed_strategy, api):
    """Entry at 09:30 fills; the exit is due at 09:31 but the ticks of 09:29-09:31 were lost.
    The 09:32 tick finds the gap, announces the 09:31 exit late, and the positions close."""
    user_id, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}", {"exit_time": "09:31", "exit_days": ["MONDAY"]})
    assert status == 200, body
    engine.clock.set(at("09:28", 5))
    (entry,) = due(engine) if run_emitter(engine) else []
    assert run_state_machine(entry, engine)["results"][0]["status"] == "COMPLETED"
    assert any(p.quantity for p in engine.repos.positions.list(user_id, strategy_id))

    engine.clock.set(at("09:32", 4))  # ticks 09:29, 09:30, 09:31 never ran
    result = run_emitter(engine)
    assert "09:31" in result.missed_slots
    (exit_event,) = due(engine, "EXIT")
    assert exit_event["slot"] == "09:31" and exit_event["late"] is True and exit_event["late_ms"] > 60_000
    assert [r["strategy_id"] for r in result.late_exits] == [strategy_id]
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
    assert read_marker(engine) == at("09:34")


def test_a_missed_entry_slot_is_recorded_skipped_with_the_reason(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    engine.clock.set(at("09:27", 5))
    run_emitter(engine)  # the 09:29 slot: nothing due; the marker says 09:29 was handled
    assert due(engine) == []
    engine.clock.set(at("09:31", 2))  # the 09:28, 09:29 and 09:30 ticks were lost
    result = run_emitter(engine)
    assert "09:30" in result.missed_slots
    assert due(engine, "ENTRY") == [], "an entry is never announced after its second"
    execution = engine.repos.executions.get(user_id, strategy_id, ExecutionType.ENTRY, DAY)
    assert execution is not None and execution.status is ExecutionStatus.SKIPPED
    assert "missed entry slot 09:30" in execution.reasons[0] and "62 s after" in execution.reasons[0]
    alerts = [d for _, t, d in engine.publisher.drain(ORDER_ALERT) if d.get("kind") == "ENTRY_MISSED"]
    assert [a["strategy_id"] for a in alerts] == [strategy_id]
    assert sum(len(b.order_book()) for b in engine.paper.brokers().values()) == 0


def test_a_missed_slot_still_ahead_is_announced_normally(engine, seed_strategy):
    engine.clock.set(at("09:26", 5))
    run_emitter(engine)                       # handles 09:28
    engine.clock.set(at("09:29", 1))          # the 09:27 tick (slot 09:29) and 09:28 tick (09:30) lost
    result = run_emitter(engine)              # slot 09:31; catch-up 09:29, 09:30
    (event,) = due(engine, "ENTRY")
    assert event["slot"] == "09:30" and "late" not in event
    assert result.missed_slots == ["09:29", "09:30"]


def test_an_old_duplicate_tick_does_not_move_the_marker_back(engine, seed_strategy):
    engine.clock.set(at("09:28", 5))
    run_emitter(engine)
    assert read_marker(engine) == at("09:30")
    run_emitter(engine, scheduled_at=utc_iso_ms(at("09:25")))
    assert read_marker(engine) == at("09:30")


class _FlakyEvents:
    """PutEvents that refuses chosen entries (by detail's batch_id) a number of times."""

    def __init__(self, refuse: dict[str, int]):
        self.refuse = dict(refuse)
        self.accepted: list[str] = []
        self.calls = 0

    def put_events(self, Entries):
        import json

        self.calls += 1
        answers, failed = [], 0
        for entry in Entries:
            batch = json.loads(entry["Detail"])["batch_id"]
            if self.refuse.get(batch, 0) > 0:
                self.refuse[batch] -= 1
                answers.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
                failed += 1
            else:
                self.accepted.append(batch)
                answers.append({"EventId": f"id-{batch}"})
        return {"FailedEntryCount": failed, "Entries": answers}


def _events(n):
    return [("src", EXECUTION_DUE, {"batch_id": f"b{i:02d}"}) for i in range(n)]


def test_publish_many_retries_refused_entries_and_keeps_the_later_batches():
    client = _FlakyEvents({"b03": 1, "b12": 2})
    publisher = EventBridgePublisher("bus", client=client, sleep=lambda s: None)
    report = publisher.publish_many(_events(25))
    assert report.sent == 25 and report.failed == []
    assert sorted(client.accepted) == [f"b{i:02d}" for i in range(25)]


def test_publish_many_reports_what_could_not_be_sent():
    client = _FlakyEvents({"b04": 99})
    publisher = EventBridgePublisher("bus", client=client, attempts=3, sleep=lambda s: None)
    report = publisher.publish_many(_events(25))
    assert report.sent == 24
    assert [(f["batch_id"], f["error_code"]) for f in report.failed] == [("b04", "InternalFailure")]
    assert "b24" in client.accepted, "batches after the refused entry were still sent"


def test_an_exit_day_that_is_a_holiday_exits_on_the_previous_trading_day(engine, seed_strategy, api):
    """Item 11's second half: exit days TUESDAY; Tue 10 Nov 2026 is an NSE holiday (Diwali
    Balipratipada), so the exit is announced on Mon 9 Nov at its exit time, and Prepare claims it."""
    from shared_utils.execution.steps import prepare

    user_id, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["TUESDAY"]})
    assert status == 200, body
    engine.clock.set(datetime(2026, 11, 9, 15, 18, 5, tzinfo=IST))
    result = run_emitter(engine)
    (event,) = due(engine, "EXIT")
    assert event["trade_date"] == "2026-11-09" and event["slot"] == "15:20" and event["trigger"] == "SQUARE_OFF"
    assert "exit day Tue 10 Nov 2026 is a holiday" in event["reason"]
    assert [e["strategy_id"] for e in result.holiday_exits] == [strategy_id]
    state = prepare(event, engine, "run-holiday")
    assert state["claimed_count"] == 1, state["skipped"]
    # an ordinary Monday with no holiday after it: the TUESDAY exit is not moved
    engine.clock.set(datetime(2026, 11, 16, 15, 18, 5, tzinfo=IST))
    run_emitter(engine)
    assert due(engine, "EXIT") == []


class _ThrottledOnce:
    """PutEvents that raises (throttled) on its first call, then accepts everything."""

    def __init__(self):
        self.calls = 0
        self.accepted = 0

    def put_events(self, Entries):
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
        self.accepted += len(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{i}"} for i in range(len(Entries))]}


def test_publish_many_retries_a_throttled_call():
    client = _ThrottledOnce()
    report = EventBridgePublisher("bus", client=client, sleep=lambda s: None).publish_many(_events(12))
    assert report.sent == 12 and report.failed == [] and client.accepted == 12 and client.calls == 3


def test_an_event_the_bus_refuses_is_reported_by_the_emitter_and_its_slot_handled_again(engine, seed_strategy):
    """The 09:30 entry's event is refused: the emitter says so (unsent) and does not move its
    marker past the slot, so the next tick announces it again (still 60 s ahead)."""

    class Refusing:
        def __init__(self, inner):
            self.inner, self.refuse = inner, True

        def publish(self, *event):
            self.inner.publish(*event)

        def publish_many(self, events):
            from shared_utils.execution.events import PublishReport

            if self.refuse:
                return PublishReport(sent=0, failed=[{"detail_type": t, "batch_id": d.get("batch_id"),
                                                      "error_code": "InternalFailure", "error_message": ""}
                                                     for _, t, d in events])
            return self.inner.publish_many(events)

    bus = engine.publisher
    engine.publisher = Refusing(bus)
    engine.clock.set(at("09:27", 5))
    run_emitter(engine)                               # slot 09:29, nothing due: marker 09:29
    engine.clock.set(at("09:28", 5))
    first = run_emitter(engine)                       # slot 09:30: refused
    assert [u["batch_id"][:13] for u in first.unsent] == ["E202608170930"]
    assert read_marker(engine) == at("09:29")
    engine.publisher.refuse = False
    engine.clock.set(at("09:29", 5))
    second = run_emitter(engine)                      # slot 09:31; 09:30 caught up, 55 s ahead
    assert second.missed_slots == ["09:30"] and second.unsent == []
    (event,) = [d for _, t, d in bus.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
    assert event["slot"] == "09:30" and "late" not in event


def test_a_tick_of_an_earlier_day_announces_nothing(engine, seed_strategy):
    engine.clock.set(datetime(2026, 8, 18, 9, 28, 5, tzinfo=IST))
    result = run_emitter(engine, scheduled_at="2026-08-17T03:58:00Z")  # Monday's 09:28 tick, on Tuesday
    assert due(engine) == [] and "stale tick of 2026-08-17" in result.reason
    assert read_marker(engine) is None
