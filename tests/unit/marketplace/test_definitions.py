"""What a subscriber trades, computed from the subscription and the admin's CURRENT legs
(shared_utils.marketplace.definitions), and the template files' validation. No I/O."""

from __future__ import annotations

import json

import pytest

from shared_utils.marketplace.definitions import subscriber_allocations
from shared_utils.marketplace.models import (
    LegLots,
    StrategyOverride,
    SubscribeRequest,
    SubscriptionAccount,
    SubscriptionConfig,
    SubscriptionLink,
    SubscriptionStatus,
)
from shared_utils.marketplace.templates import TEMPLATES_DIR, load_templates
from shared_utils.models.leg import Leg


def _legs(*lots, enabled=None):
    return [Leg(user_id="admin", strategy_id="stg", leg_no=n, lots=l, transaction_type="BUY" if n % 2 else "SELL",
                leg_type="PUT", underlying="NIFTY", entry_by="ATM_OFFSET", expiry_type="WEEKLY",
                enabled=(enabled or {}).get(n, True)) for n, l in enumerate(lots, start=1)]


def _link(override=None, status=SubscriptionStatus.ACTIVE, **accounts):
    return SubscriptionLink(user_id="sub", strategy_id="stg", owner_user_id="admin", basket_id="bkt",
                            subscription_id="s1", status=status, override=override or StrategyOverride(),
                            allocations=[SubscriptionAccount(client_id=c, lot_multiplier=m) for c, m in accounts.items()])


def _lots(allocation, legs):
    return {leg.leg_no: allocation.lots_for_leg(leg.leg_no, leg.lots, leg.enabled) for leg in legs}


def test_each_account_trades_base_lots_times_its_multiplier():
    legs = _legs(2, 1)
    a, b = subscriber_allocations(_link(A=1, B=3), legs)
    assert a.user_id == "sub" and (_lots(a, legs), _lots(b, legs)) == ({1: 2, 2: 1}, {1: 6, 2: 3})


def test_the_strategy_multiplier_replaces_the_accounts_and_leg_lots_replace_both():
    legs = _legs(2, 1, 4)
    override = StrategyOverride(lot_multiplier=2, leg_overrides={"3": LegLots(lots=1)})
    (a,) = subscriber_allocations(_link(override, A=5), legs)
    assert _lots(a, legs) == {1: 4, 2: 2, 3: 1}
    # a leg the admin adds later is traded at base x multiplier (never silently skipped)
    more = legs + _legs(2, 1, 4, 3)[3:]
    (a,) = subscriber_allocations(_link(override, A=5), more)
    assert _lots(a, more)[4] == 6


def test_disabled_legs_stay_disabled_and_paused_or_disabled_strategies_trade_nothing():
    legs = _legs(2, 2, enabled={2: False})
    (a,) = subscriber_allocations(_link(A=1), legs)
    assert _lots(a, legs) == {1: 2, 2: 0}
    (paused,) = subscriber_allocations(_link(status=SubscriptionStatus.PAUSED, A=1), legs)
    (off,) = subscriber_allocations(_link(StrategyOverride(enabled=False), A=1), legs)
    assert _lots(paused, legs) == _lots(off, legs) == {1: 0, 2: 0}


def test_request_shapes_refuse_what_cannot_be_meant():
    with pytest.raises(ValueError, match="appears twice"):
        SubscribeRequest(allocations=[{"client_id": "A"}, {"client_id": "A"}])
    with pytest.raises(ValueError, match="leg number"):
        StrategyOverride(leg_overrides={"x": {"lots": 1}})
    with pytest.raises(ValueError):
        SubscribeRequest(allocations=[{"client_id": "A", "lot_multiplier": "2"}])  # a string is not a number
    assert SubscriptionConfig(min_subscription_amount=50000).min_capital == 50000  # the seed's name


def test_a_bad_template_file_is_refused_with_its_name(tmp_path):
    good = json.loads((TEMPLATES_DIR / "iron_condor.json").read_text())
    good["legs"][0]["lots"] = 0
    (tmp_path / good["template_id"]).with_suffix(".json").write_text(json.dumps(good))
    with pytest.raises(ValueError, match=f"{good['template_id']}.json: not a valid strategy template"):
        load_templates.__wrapped__(str(tmp_path))
