"""Issue 20: an ADMIN publishes a basket, three traders subscribe with their own accounts and
multipliers, one pauses; at the entry second exactly the two active subscribers' orders go out,
each in their own accounts with their own quantities; capacity and minimum capital answer 409
with the reason; tenant isolation holds; an admin's edit applies from the next execution."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from local.apigw import call
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence import keys
from tests.functional.api.journey import complete_legs, run_journey
from tests.functional.engine.conftest import due_event

ADMIN = "admin-1"
MONDAY = date(2026, 8, 17)
#: the seed journey's base lots per leg (every leg 2 lots)
BASE_LOTS = 2
NIFTY_LOT = 65


def _as(user, groups=("TRADER",)):
    def _call(method, path, body=None, query=None):
        return call(method, path, body, query=query,
                    claims={"sub": user, "cognito:username": user, "cognito:groups": list(groups)})
    return _call


@pytest.fixture
def market(api, engine):
    """The admin's basket (the seed's iron condor, entry 09:30) published; returns ids."""
    admin = _as(ADMIN, ("ADMIN",))

    def _call(method, path, body, user):
        return admin(method, path, body)

    api.link(ADMIN, "ADMINPAPER1")
    basket_id, strategy_id = run_journey(_call, user=ADMIN, link=api.link)
    complete_legs(_call, strategy_id, user=ADMIN)
    status, body = admin("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:30", "exit_time": "15:20"})
    assert status == 200, body
    status, listing = admin("POST", "/options/marketplace/baskets", {
        "basket_id": basket_id, "visibility": "PUBLIC", "category": "HEDGED", "risk_level": "MEDIUM",
        "description": "Weekly NIFTY iron condor", "tags": ["nifty", "weekly"],
        "subscription_config": {"min_capital": 200000, "max_subscribers": 3}})
    assert status == 201, listing
    return basket_id, strategy_id


def _link(api, user, *client_ids):
    for client_id in client_ids:
        api.repos.accounts.create(BrokerAccount(user_id=user, client_id=client_id, broker="zerodha"))


def test_only_admins_publish(api, engine, market):
    basket_id, _ = market
    status, body = _as("trader-x")("POST", "/options/marketplace/baskets",
                                   {"basket_id": basket_id, "category": "HEDGED", "risk_level": "LOW"})
    assert status == 403 and "ADMIN" in body["message"]
    status, _ = _as(ADMIN, ("ADMIN",))("POST", "/options/marketplace/baskets",
                                       {"basket_id": basket_id, "category": "HEDGED", "risk_level": "LOW"})
    assert status == 409


def test_two_active_subscribers_trade_at_the_second_in_their_own_accounts(api, engine, market):
    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    _link(api, "trader-2", "T2ZERODHA", "T2ANGEL")
    _link(api, "trader-3", "T3ZERODHA")
    _link(api, "trader-4", "T4ZERODHA")
    _link(api, "trader-5", "T5ZERODHA")
    t1, t2, t3, t4, t5 = (_as(f"trader-{n}") for n in range(1, 6))

    status, sub1 = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T1ZERODHA", "lot_multiplier": 1}], "capital": 300000})
    assert status == 201, sub1
    status, sub2 = t2("POST", f"/options/baskets/{basket_id}/subscribe", {
        "allocations": [{"client_id": "T2ZERODHA", "lot_multiplier": 2}, {"client_id": "T2ANGEL", "lot_multiplier": 3}],
        "capital": 900000})
    assert status == 201, sub2
    # minimum capital: 409 with the reason (nothing stored)
    status, body = t4("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T4ZERODHA"}], "capital": 50000})
    assert status == 409 and "minimum capital" in body["message"], body
    # a size over the platform limits: 422 naming the account, nothing stored
    status, body = t4("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T4ZERODHA", "lot_multiplier": 1000}], "capital": 5000000})
    assert status == 422 and "T4ZERODHA" in json.dumps(body), body
    # an account that is not the subscriber's: 422 naming it
    status, body = t3("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert status == 422 and "T1ZERODHA" in json.dumps(body)
    # the admin's own account registered by the subscriber too: refused (same order keys and tags)
    _link(api, "trader-3", "ZERODHA123")
    status, body = t3("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "ZERODHA123"}], "capital": 300000})
    assert status == 422 and "registered by another user" in json.dumps(body), body
    status, sub3 = t3("POST", f"/options/baskets/{basket_id}/subscribe", {
        "allocations": [{"client_id": "T3ZERODHA", "lot_multiplier": 5}], "capital": 400000})
    assert status == 201, sub3
    # capacity: 3 of 3
    status, body = t5("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T5ZERODHA"}], "capital": 500000})
    assert status == 409 and "full" in body["message"] and "3 of 3" in body["message"], body
    # a second subscription of the same basket
    status, body = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                      {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert status == 409 and "already subscribe" in body["message"]
    # each subscriber's "what runs today" lists the subscribed strategy
    status, schedule = t3("GET", "/options/executions/schedule", query={"date": "2026-08-17"})
    assert status == 200 and [(r["strategy_id"], r["due"]) for r in schedule["items"] if r["execution_type"] == "ENTRY"] \
        == [(strategy_id, True)], schedule
    # trader-3 pauses
    status, paused = t3("POST", f"/options/subscriptions/{sub3['subscription_id']}/pause")
    assert status == 200 and paused["status"] == "PAUSED"
    schedule = t3("GET", "/options/executions/schedule", query={"date": "2026-08-17"})[1]
    assert [r["due"] for r in schedule["items"] if r["execution_type"] == "ENTRY"] == [False]

    # the emitter's ONE slot query finds the admin's and the two active subscribers' executions
    events = due_event(engine)
    refs = sorted((r["user_id"], r["strategy_id"]) for e in events for r in e["strategies"])
    assert refs == [(ADMIN, strategy_id), ("trader-1", strategy_id), ("trader-2", strategy_id)]
    for event in events:
        run_state_machine(event, engine)

    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, MONDAY)
    by_user = {u: engine.repos.orders.list_for_execution(u, execution_id) for u in ("trader-1", "trader-2", "trader-3")}
    assert by_user["trader-3"] == []
    assert {o.client_id for o in by_user["trader-1"]} == {"T1ZERODHA"}
    assert {o.client_id for o in by_user["trader-2"]} == {"T2ZERODHA", "T2ANGEL"}
    multiplier = {"T1ZERODHA": 1, "T2ZERODHA": 2, "T2ANGEL": 3}
    for user in ("trader-1", "trader-2"):
        execution = engine.repos.executions.get_by_id(user, execution_id)
        assert execution.status.value == "COMPLETED", execution.reasons
        # one run holds the admin's and the subscribers' branches under the same execution id:
        # Finalize tells them apart by user (the admin's accounts' notes never reach a subscriber)
        assert not any(c in r for r in execution.reasons for c in ("ZERODHA123", "ANGELONE456")), execution.reasons
        assert len(by_user[user]) == 4 * len({o.client_id for o in by_user[user]})
        for order in by_user[user]:
            assert order.user_id == user
            assert order.quantity == BASE_LOTS * multiplier[order.client_id] * NIFTY_LOT, order
            assert order.sent_at >= execution.execute_at
    # the same contracts as the admin's own execution: one definition, one choice
    admin_symbols = {(o.leg_no, o.tradingsymbol) for o in engine.repos.orders.list_for_execution(ADMIN, execution_id)}
    assert {(o.leg_no, o.tradingsymbol) for o in by_user["trader-2"]} == admin_symbols
    # positions are the subscriber's
    assert {p.client_id for p in engine.repos.positions.list("trader-2", strategy_id)} == {"T2ZERODHA", "T2ANGEL"}
    assert engine.repos.positions.list("trader-3", strategy_id) == []


def test_tenant_isolation(api, engine, market):
    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    _link(api, "trader-2", "T2ZERODHA")
    t1, t2 = _as("trader-1"), _as("trader-2")
    _, sub1 = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                 {"allocations": [{"client_id": "T1ZERODHA", "lot_multiplier": 2}], "capital": 300000})
    _, sub2 = t2("POST", f"/options/baskets/{basket_id}/subscribe",
                 {"allocations": [{"client_id": "T2ZERODHA"}], "capital": 300000})
    for method, path in (("GET", f"/options/subscriptions/{sub1['subscription_id']}"),
                         ("PUT", f"/options/subscriptions/{sub1['subscription_id']}"),
                         ("POST", f"/options/subscriptions/{sub1['subscription_id']}/pause"),
                         ("DELETE", f"/options/subscriptions/{sub1['subscription_id']}")):
        body = {"allocations": [{"client_id": "T2ZERODHA"}]} if method == "PUT" else None
        status, _ = t2(method, path, body)
        assert status == 404, (method, path)
    # the subscriber sees the basket's definition, never the admin's or another subscriber's accounts
    for answer in (t2("GET", f"/options/marketplace/baskets/{basket_id}")[1],
                   t2("GET", f"/options/subscriptions/{sub2['subscription_id']}")[1],
                   t2("GET", "/options/marketplace")[1], t2("GET", "/options/subscriptions")[1]):
        text = json.dumps(answer)
        for foreign in ("ZERODHA123", "ANGELONE456", "ADMINPAPER1", "T1ZERODHA", ADMIN, "trader-1"):
            assert foreign not in text, (foreign, text[:300])
    status, detail = t2("GET", f"/options/marketplace/baskets/{basket_id}")
    assert status == 200, detail
    assert detail["definition_visible"] and [len(s["legs"]) for s in detail["strategies"]] == [4]
    assert detail["basket"]["subscriber_count"] == 2 and detail["basket"]["seats_left"] == 1
    # a subscriber cannot edit the admin's strategy through the strategy routes
    assert t2("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:45"})[0] == 404
    assert t2("GET", f"/options/strategies/{strategy_id}/allocations")[0] == 404


def test_admin_edit_applies_from_the_next_execution_and_is_noticed(api, engine, market):
    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    t1 = _as("trader-1")
    admin = _as(ADMIN, ("ADMIN",))
    _, sub1 = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                 {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    # the admin moves the entry from 09:30 to 09:31 and doubles leg 1
    assert admin("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:31"})[0] == 200
    assert admin("PUT", f"/options/strategies/{strategy_id}/legs/1", {"lots": 4})[0] == 200
    detail = t1("GET", f"/options/subscriptions/{sub1['subscription_id']}")[1]
    whats = [n["what"] for n in detail["notices"]]
    assert any("strategy edited" in w for w in whats) and any("leg 1 changed: lots" in w for w in whats), whats
    assert detail["strategies"][0]["entry_time"] == "09:31"
    # the subscriber's schedule moved with the admin's: nothing due at 09:30, both at 09:31
    assert due_event(engine) == []
    engine.clock.advance(timedelta(seconds=60))
    events = due_event(engine, "09:31")
    refs = sorted(r["user_id"] for e in events for r in e["strategies"])
    assert refs == [ADMIN, "trader-1"]
    for event in events:
        run_state_machine(event, engine)
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, MONDAY)
    orders = {o.leg_no: o for o in engine.repos.orders.list_for_execution("trader-1", execution_id)}
    assert orders[1].quantity == 4 * NIFTY_LOT and orders[2].quantity == 2 * NIFTY_LOT


def test_strategy_overrides_per_leg_and_disabled_strategy(api, engine, market):
    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    t1 = _as("trader-1")
    status, sub = t1("POST", f"/options/baskets/{basket_id}/subscribe", {
        "allocations": [{"client_id": "T1ZERODHA", "lot_multiplier": 2}], "capital": 300000,
        "strategy_overrides": {strategy_id: {"leg_overrides": {"1": {"lots": 1}, "3": {"lots": 1}}}}})
    assert status == 201, sub
    detail = t1("GET", f"/options/subscriptions/{sub['subscription_id']}")[1]
    # legs 1 and 3 at 1 lot, legs 2 and 4 at 2 x 2
    assert detail["lots_per_execution"] == {strategy_id: {"T1ZERODHA": 1 + 4 + 1 + 4}}
    status, body = t1("POST", f"/options/baskets/{basket_id}/subscribe", {
        "allocations": [{"client_id": "T1ZERODHA"}], "strategy_overrides": {"stg_unknown": {"enabled": False}}})
    assert status in (409, 422)


def test_visibility_and_cloning_a_marketplace_strategy(api, engine, market):
    basket_id, strategy_id = market
    admin = _as(ADMIN, ("ADMIN",))
    _link(api, "trader-1", "T1ZERODHA")
    t1, t2 = _as("trader-1"), _as("trader-2")
    # PUBLIC: anyone may clone its strategy (definition only, PAUSED, no allocation)
    status, clone = t2("POST", f"/options/strategies/{strategy_id}/clone", {"strategy_name": "My condor"})
    assert status == 201 and clone["strategy"]["user_id"] == "trader-2" and len(clone["legs"]) == 4, clone
    assert clone["strategy"]["status"] == "PAUSED"
    # SUBSCRIBERS_ONLY: the card and performance, not the legs, until subscribed
    status, listing = admin("PUT", f"/options/marketplace/baskets/{basket_id}", {"visibility": "SUBSCRIBERS_ONLY"})
    assert status == 200, listing
    detail = t1("GET", f"/options/marketplace/baskets/{basket_id}")[1]
    assert detail["definition_visible"] is False and detail["strategies"] == []
    assert t2("POST", f"/options/strategies/{strategy_id}/clone", {})[0] == 404
    _, sub = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert t1("GET", f"/options/marketplace/baskets/{basket_id}")[1]["definition_visible"] is True
    assert t1("POST", f"/options/strategies/{strategy_id}/clone", {})[0] == 201
    # PRIVATE: gone for everyone else, kept for the subscriber; no new subscriptions
    admin("PUT", f"/options/marketplace/baskets/{basket_id}", {"visibility": "PRIVATE"})
    assert t2("GET", f"/options/marketplace/baskets/{basket_id}")[0] == 404
    assert [c["basket_id"] for c in t2("GET", "/options/marketplace")[1]["items"]] == []
    assert t1("GET", f"/options/marketplace/baskets/{basket_id}")[0] == 200
    assert t2("POST", f"/options/baskets/{basket_id}/subscribe",
              {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})[0] == 404
    # the listing changes are notices for the subscriber
    notices = t1("GET", f"/options/subscriptions/{sub['subscription_id']}")[1]["notices"]
    assert any("visibility" in n["what"] for n in notices)
    # cancel frees the seat
    assert t1("POST", f"/options/subscriptions/{sub['subscription_id']}/cancel")[1]["status"] == "CANCELLED"
    assert admin("GET", "/options/marketplace/mine")[1][0]["subscriber_count"] == 0
    assert t1("POST", f"/options/subscriptions/{sub['subscription_id']}/resume")[0] == 409


def test_the_admin_cannot_delete_what_subscribers_run(api, engine, market):
    basket_id, strategy_id = market
    admin = _as(ADMIN, ("ADMIN",))
    _link(api, "trader-1", "T1ZERODHA")
    _, sub = _as("trader-1")("POST", f"/options/baskets/{basket_id}/subscribe",
                             {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert admin("POST", f"/options/strategies/{strategy_id}/pause")[0] == 200
    status, body = admin("DELETE", f"/options/strategies/{strategy_id}")
    assert status == 409 and "subscriber" in body["reasons"][0], body
    status, body = admin("DELETE", f"/options/baskets/{basket_id}")
    assert status == 409 and "subscriber" in body["reasons"][0], body
    # once the subscriber cancels, the admin may delete
    _as("trader-1")("POST", f"/options/subscriptions/{sub['subscription_id']}/cancel")
    assert admin("DELETE", f"/options/strategies/{strategy_id}")[0] == 200


def test_own_kill_switch_and_exit_after_a_pause(api, engine, market):
    """Each subscriber's execution obeys the subscriber's own kill switch (the other subscriber
    trades), and a paused subscription still exits what it holds at the admin's exit time."""
    from datetime import datetime

    from shared_utils.clock import IST

    basket_id, strategy_id = market
    status, body = _as(ADMIN, ("ADMIN",))("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})
    assert status == 200, body
    _link(api, "trader-1", "T1ZERODHA")
    _link(api, "trader-2", "T2ZERODHA")
    t1, t2 = _as("trader-1"), _as("trader-2")
    _, sub1 = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                 {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    t2("POST", f"/options/baskets/{basket_id}/subscribe", {"allocations": [{"client_id": "T2ZERODHA"}], "capital": 300000})
    engine.repos.controls.set_kill_switch(True, "trader-2 stops for today", user_id="trader-2")
    for event in due_event(engine):
        run_state_machine(event, engine)
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, MONDAY)
    assert len(engine.repos.orders.list_for_execution("trader-1", entry_id)) == 4
    assert engine.repos.orders.list_for_execution("trader-2", entry_id) == []
    skipped = engine.repos.executions.get_by_id("trader-2", entry_id)
    assert skipped.status.value == "SKIPPED" and any("kill switch" in r.lower() for r in skipped.reasons)
    # the per-minute poller follows the subscriber's fills: the admin's legs' stops go to the
    # broker in the subscriber's account, as they do in the admin's
    from shared_utils.execution.order_poller import run_order_poller
    from shared_utils.models.enums import OrderPurpose

    engine.clock.set(datetime(2026, 8, 17, 9, 31, 5, tzinfo=IST))
    run_order_poller(engine)
    stops = {u: sorted(o.leg_no for o in engine.repos.orders.list_for_execution(u, entry_id)
                       if o.purpose is OrderPurpose.STOP_LOSS) for u in (ADMIN, "trader-1")}
    assert stops["trader-1"] and stops["trader-1"] == sorted(set(stops[ADMIN])), stops  # one stop per leg, as the admin's
    assert {o.client_id for o in engine.repos.orders.list_for_execution("trader-1", entry_id)} == {"T1ZERODHA"}
    # trader-1 pauses after the entry: the exit at 15:20 still closes trader-1's positions
    assert t1("POST", f"/options/subscriptions/{sub1['subscription_id']}/pause")[0] == 200
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    events = due_event(engine, "15:20", ExecutionType.EXIT)
    assert "trader-1" in {r["user_id"] for e in events for r in e["strategies"]}
    for event in events:
        run_state_machine(event, engine)
    held = [p for p in engine.repos.positions.list("trader-1", strategy_id) if p.quantity]
    assert held == [], held
    exit_id = keys.execution_id(strategy_id, ExecutionType.EXIT, MONDAY)
    assert {o.client_id for o in engine.repos.orders.list_for_execution("trader-1", exit_id)} == {"T1ZERODHA"}


def test_a_subscriber_closes_what_they_hold_by_a_manual_exit(api, engine, market):
    """A subscriber may exit early (manual EXIT of the subscribed strategy, in their own
    accounts); a manual ENTRY is refused with the reason (entries follow the basket)."""
    from datetime import datetime

    from shared_utils.clock import IST, default_clock, set_default_clock
    from shared_utils.execution.events import EXECUTION_DUE, set_default_publisher

    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    t1 = _as("trader-1")
    t1("POST", f"/options/baskets/{basket_id}/subscribe", {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    for event in due_event(engine):
        run_state_machine(event, engine)
    previous = default_clock()
    set_default_clock(engine.clock)
    set_default_publisher(engine.publisher)
    try:
        engine.clock.set(datetime(2026, 8, 17, 11, 5, 0, 300000, tzinfo=IST))
        status, body = t1("POST", "/options/executions/manual", {"strategy_id": strategy_id, "execution_type": "ENTRY"})
        assert status == 409 and "marketplace subscription" in body["message"], body
        status, body = t1("POST", "/options/executions/manual", {"strategy_id": strategy_id, "execution_type": "EXIT"})
        assert status == 202, body
        (event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE)]
        (summary,) = run_state_machine(event, engine)["results"]
    finally:
        set_default_clock(previous)
        set_default_publisher(None)
    assert summary["status"] == "COMPLETED" and summary["user_id"] == "trader-1", summary
    assert [p for p in engine.repos.positions.list("trader-1", strategy_id) if p.quantity] == []
    # the admin's own positions are untouched
    assert any(p.quantity for p in engine.repos.positions.list(ADMIN, strategy_id))
    assert _as("trader-2")("POST", "/options/executions/manual",
                           {"strategy_id": strategy_id, "execution_type": "EXIT"})[0] == 404


def test_subscriber_limits_are_their_own_and_the_basket_shows_its_paper_track(api, engine, market):
    basket_id, strategy_id = market
    _link(api, "trader-1", "T1ZERODHA")
    _link(api, "trader-2", "T2ZERODHA")
    t1, t2 = _as("trader-1"), _as("trader-2")
    assert t2("GET", f"/options/marketplace/baskets/{basket_id}")[1]["performance"]["executions"] == 0
    t1("POST", f"/options/baskets/{basket_id}/subscribe", {"capital": 300000, "allocations": [
        {"client_id": "T1ZERODHA", "risk_limits": {"max_position_value": 1}}]})
    t2("POST", f"/options/baskets/{basket_id}/subscribe", {"allocations": [{"client_id": "T2ZERODHA"}], "capital": 300000})
    for event in due_event(engine):
        run_state_machine(event, engine)
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, MONDAY)
    refused = engine.repos.executions.get_by_id("trader-1", entry_id)
    assert refused.status.value == "FAILED" and any("T1ZERODHA" in r and "max_position_value" in r for r in refused.reasons)
    assert engine.repos.orders.list_for_execution("trader-1", entry_id) == []
    assert engine.repos.executions.get_by_id("trader-2", entry_id).status.value == "COMPLETED"
    # the basket's own track: the admin's paper execution (never a subscriber's), no account named
    # the subscriber's own P&L of the subscribed strategy (their partition); a stranger's is 404
    status, pnl = t2("GET", f"/options/pnl/{strategy_id}", query={"from_date": "2026-08-17", "to_date": "2026-08-17"})
    assert status == 200, pnl
    assert _as("trader-9")("GET", f"/options/pnl/{strategy_id}")[0] == 404
    assert t2("GET", f"/options/performance/strategies/{strategy_id}")[0] == 200
    performance = t2("GET", f"/options/marketplace/baskets/{basket_id}")[1]["performance"]
    assert performance["executions"] == 1 and performance["trade_days"] == 1 and performance["daily"][0]["date"] == "2026-08-17"


def test_a_strategy_the_admin_adds_runs_for_subscribers_from_the_next_execution(api, engine, market):
    basket_id, strategy_id = market
    admin = _as(ADMIN, ("ADMIN",))
    _link(api, "trader-1", "T1ZERODHA")
    t1 = _as("trader-1")
    _, sub = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                {"allocations": [{"client_id": "T1ZERODHA", "lot_multiplier": 3}], "capital": 300000})
    # the admin adds an iron fly (a template) to the listed basket, allocates and activates it
    status, made = admin("POST", "/options/templates/iron_fly/create", {"basket_id": basket_id})
    assert status == 201, made
    fly = made["strategy"]["strategy_id"]
    assert admin("POST", f"/options/strategies/{fly}/allocations", {"client_id": "ZERODHA123"})[0] == 201
    assert admin("POST", f"/options/strategies/{fly}/activate")[0] == 200
    detail = t1("GET", f"/options/subscriptions/{sub['subscription_id']}")[1]
    assert {s["strategy_id"] for s in detail["strategies"]} == {strategy_id, fly}
    assert detail["lots_per_execution"][fly] == {"T1ZERODHA": 4 * 3}
    assert any("strategy added" in n["what"] for n in detail["notices"])
    events = due_event(engine)
    refs = sorted((r["user_id"], r["strategy_id"]) for e in events for r in e["strategies"])
    assert ("trader-1", fly) in refs and ("trader-1", strategy_id) in refs
    for event in events:
        run_state_machine(event, engine)
    fly_orders = engine.repos.orders.list_for_execution("trader-1", keys.execution_id(fly, ExecutionType.ENTRY, MONDAY))
    assert len(fly_orders) == 4 and all(o.quantity == 3 * NIFTY_LOT for o in fly_orders)


def test_cancel_then_subscribe_again_and_change_accounts(api, engine, market):
    basket_id, _ = market
    _link(api, "trader-1", "T1ZERODHA", "T1ANGEL")
    t1 = _as("trader-1")
    _, first = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                  {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert t1("DELETE", f"/options/subscriptions/{first['subscription_id']}")[1]["status"] == "CANCELLED"
    status, second = t1("POST", f"/options/baskets/{basket_id}/subscribe",
                        {"allocations": [{"client_id": "T1ZERODHA"}], "capital": 300000})
    assert status == 201, second
    status, changed = t1("PUT", f"/options/subscriptions/{second['subscription_id']}",
                         {"allocations": [{"client_id": "T1ANGEL", "lot_multiplier": 2}]})
    assert status == 200 and [a["client_id"] for a in changed["allocations"]] == ["T1ANGEL"], changed
    detail = t1("GET", f"/options/subscriptions/{second['subscription_id']}")[1]
    assert list(detail["lots_per_execution"].values()) == [{"T1ANGEL": 2 * 8}]
    assert t1("GET", f"/options/marketplace/baskets/{basket_id}")[1]["basket"]["subscriber_count"] == 1
    statuses = sorted(s["status"] for s in t1("GET", "/options/subscriptions")[1]["items"])
    assert statuses == ["ACTIVE", "CANCELLED"]
