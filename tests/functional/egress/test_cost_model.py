"""Issue 16: the cost model shows credentials and egress per trader, and backs the choices."""

from __future__ import annotations

from bench.cost import credentials_cost, egress_cost, per_trader_costs


def test_credentials_kms_envelope_does_not_grow_with_accounts():
    small = credentials_cost(accounts=20, traders=10, reads_per_month=10_000, writes_per_month=1_000)
    large = credentials_cost(accounts=2_000, traders=1_000, reads_per_month=1_000_000, writes_per_month=100_000)
    assert round(large["secret_per_account"]) >= 800  # the issue's ~$800/month at 2,000 accounts
    assert large["kms_envelope"] < 10 and large["kms_envelope"] < large["secret_per_trader"] / 40
    assert small["kms_envelope"] < small["secret_per_account"]


def test_egress_proxy_costs_less_per_trader_than_a_nat_per_group():
    three = egress_cost(3)
    assert three["proxy_per_group"] < 10 < three["nat_per_group_each"]  # USD per trader-month
    shown = per_trader_costs(traders=1000)
    assert shown["egress_proxy_inr_per_trader_month"] < shown["egress_nat_per_group_inr_per_trader_month"] / 3
    assert shown["credentials_kms_envelope_inr_per_trader_month"] < 1
