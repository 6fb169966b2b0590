"""Issue 18: the alerts the engine really publishes become messages that say what happened,
where and what the platform did (no hand-written alert shapes: the engine's own output)."""

from shared_utils.execution.events import ORDER_ALERT
from shared_utils.execution.runner import run_state_machine
from shared_utils.notifications.models import NotificationEvent
from shared_utils.notifications.service import notifications_of
from tests.functional.engine.conftest import due_event


def _bus(detail):
    return {"id": "evt", "detail-type": ORDER_ALERT, "time": "2026-08-17T04:00:03Z", "detail": detail}


def test_a_rejected_hedge_tells_the_trader_the_shorts_were_held_back(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    broker = engine.paper.client_for(engine.repos.accounts.get(user_id, "ANGELONE456"))
    original = broker.place_order
    from shared_utils.brokers.errors import OrderRejected

    def reject_buys(request):
        if request.transaction_type.value == "BUY":
            raise OrderRejected("RMS", broker="paper", broker_message="Insufficient funds for hedge")
        return original(request)

    broker.place_order = reject_buys
    run_state_machine(event, engine)
    alerts = [d for _, t, d in engine.publisher.drain(ORDER_ALERT) if d.get("user_id") == user_id]
    notes = [n for d in alerts for n in notifications_of(_bus(d), lambda u, s: engine.repos.strategies.get(u, s).strategy_name)]
    (partial,) = [n for n in notes if n.event is NotificationEvent.EXECUTION_PARTIAL]
    assert NotificationEvent.ORDER_REJECTED in partial.also_for
    name = engine.repos.strategies.get(user_id, strategy_id).strategy_name
    assert partial.title.startswith(f"ENTRY PARTIAL: {name} (")
    text = partial.text
    assert text.startswith("What happened: the ENTRY execution ended PARTIAL: ")
    assert "ANGELONE456 leg" in text and "BUY" in text and "REJECTED - " in text and "Insufficient funds for hedge" in text
    assert "SELL" in text and "NOT_SENT - " in text and "unhedged short" in text
    assert f"strategy {name} ({strategy_id})" in text and "accounts ANGELONE456" in text
    assert "What the platform did: recorded the execution as PARTIAL" in text
