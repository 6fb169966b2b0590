"""Issue 20: every template of config/templates is executable on the bundled master as shipped
(created through the API, allocated to a paper account, run by the engine at its entry
second: COMPLETED, one order per leg, hedges before shorts), and cloning copies a definition
without its allocations."""

from __future__ import annotations

from datetime import date

import pytest

from local.apigw import call
from shared_utils.execution.runner import run_state_machine
from shared_utils.marketplace.templates import load_templates
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event

MONDAY = date(2026, 8, 17)
TEMPLATES = sorted(load_templates())


def _as(user, groups=("TRADER",)):
    def _call(method, path, body=None, query=None):
        return call(method, path, body, query=query, claims={"sub": user, "cognito:groups": list(groups)})
    return _call


def test_the_library_has_the_common_structures():
    assert set(TEMPLATES) >= {"short_straddle", "short_strangle", "iron_condor", "iron_fly", "bull_call_spread",
                              "bear_put_spread", "calendar_spread"}


def test_templates_are_listed_and_shown(api):
    trader = _as("trader-t")
    status, listed = trader("GET", "/options/templates")
    assert status == 200 and {t["template_id"] for t in listed["items"]} == set(TEMPLATES)
    status, one = trader("GET", "/options/templates/iron_condor")
    assert status == 200 and len(one["legs"]) == 4 and one["strategy"]["underlying"] == "NIFTY"
    assert trader("GET", "/options/templates/nope")[0] == 404
    assert call("GET", "/options/templates", user_id=None)[0] == 401


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_each_template_executes_on_the_bundled_master(api, engine, template_id):
    user = "trader-t"
    trader = _as(user)
    api.repos.accounts.create(BrokerAccount(user_id=user, client_id="TPAPER1", broker="zerodha"))
    status, basket = trader("POST", "/options/baskets", {"basket_name": "Templates", "initial_capital": 1000000})
    assert status == 201
    status, made = trader("POST", f"/options/templates/{template_id}/create",
                          {"basket_id": basket["basket_id"], "lots": 2})
    assert status == 201, made
    strategy = made["strategy"]
    assert strategy["status"] == "PAUSED" and all(leg["lots"] == 2 for leg in made["legs"])
    strategy_id = strategy["strategy_id"]
    assert trader("POST", f"/options/strategies/{strategy_id}/allocations",
                  {"client_id": "TPAPER1", "strategy_lots_multiplier": 1})[0] == 201
    status, body = trader("POST", f"/options/strategies/{strategy_id}/activate")
    assert status == 200, body
    (event,) = due_event(engine)
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    assert summary["status"] == "COMPLETED", summary
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, MONDAY)
    orders = engine.repos.orders.list_for_execution(user, execution_id)
    assert len(orders) == len(made["legs"])
    assert all(o.quantity == 2 * o.lot_size for o in orders)
    sides = [o.transaction_type.value for o in sorted(orders, key=lambda o: o.broker_order_id)]
    assert sides == sorted(sides), f"hedges (BUY) go before shorts (SELL): {sides}"
    execution = engine.repos.executions.get_by_id(user, execution_id)
    resolved = {leg.leg_no: leg for leg in execution.resolved_legs}
    if template_id == "calendar_spread":
        assert resolved[1].strike == resolved[2].strike and resolved[1].expiry > resolved[2].expiry
    if template_id in ("iron_condor", "iron_fly"):
        assert resolved[1].strike < resolved[2].strike <= resolved[3].strike < resolved[4].strike


def test_template_refusals_name_the_field(api):
    trader = _as("trader-t")
    status, body = trader("POST", "/options/templates/short_straddle/create",
                          {"basket_id": "bkt_not_mine", "lots": 1})
    assert status == 404
    status, body = trader("POST", "/options/templates/short_straddle/create", {"lots": 0})
    assert status == 422 and body["detail"][0]["loc"][-1] == "lots"
    status, body = trader("POST", "/options/templates/short_straddle/create", {"underlying": "BANKNIFTY"})
    assert status == 422 and "weekly" in str(body).lower(), body
    # a refused leg leaves no half-made strategy behind
    assert trader("GET", "/options/strategies")[1]["items"] == []


def test_clone_copies_the_definition_not_the_allocations(api):
    owner, other = _as("trader-o"), _as("trader-p")
    api.repos.accounts.create(BrokerAccount(user_id="trader-o", client_id="OPAPER1", broker="zerodha"))
    _, made = owner("POST", "/options/templates/iron_fly/create", {"strategy_name": "My fly"})
    strategy_id = made["strategy"]["strategy_id"]
    owner("POST", f"/options/strategies/{strategy_id}/allocations", {"client_id": "OPAPER1"})
    status, clone = owner("POST", f"/options/strategies/{strategy_id}/clone", {})
    assert status == 201, clone
    assert clone["strategy"]["strategy_name"] == "My fly (copy)" and clone["strategy"]["strategy_id"] != strategy_id
    assert [l["strike_selection_config"] for l in clone["legs"]] == [l["strike_selection_config"] for l in made["legs"]]
    assert owner("GET", f"/options/strategies/{clone['strategy']['strategy_id']}/allocations")[1]["items"] == []
    # another trader cannot clone a private strategy
    assert other("POST", f"/options/strategies/{strategy_id}/clone", {})[0] == 404
