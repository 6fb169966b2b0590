"""Issue 14's bench figures: each can fail (a target and a "met?"), a timing taken on a loaded
machine says so, a missing figure is a miss, and the counters count what they claim."""

from __future__ import annotations

import json

from bench import report
from bench.cost import provisioned_concurrency_cost, prices, run as cost_run
from bench.aws_requests import Recorder, _during_sends


def _doc(**figures):
    return {**figures, "meta": {"notes": {}, "scale": "test", "date": "2026-11-26"}}


def _row(text: str, figure: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{figure}` |") and line.count("|") == 6)


def test_targets_fail_pass_missing_and_inconclusive(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "ROOT", tmp_path)
    report.write_report(_doc(ddb_requests_per_execution=26.5, ddb_requests_during_sends=0,
                             api_handler_cpu_p95_ms=3.0, load_api_cpu=0.5,
                             cold_first_send_ms_lambda_equiv=900.0, load_coldpath=5.3))
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "| **NO** | deterministic |" in _row(text, "ddb_requests_per_execution")
    assert "| yes | deterministic |" in _row(text, "ddb_requests_during_sends")
    assert "| yes | 0.500 |" in _row(text, "api_handler_cpu_p95_ms")
    assert "yes, inconclusive (load 5.3 > 2)" in _row(text, "cold_first_send_ms_lambda_equiv")
    assert "**NO** (not measured" in _row(text, "cold_first_order_lag_p99_ms")
    assert "## Per trader: credentials and static egress (issue 16)" in text


def test_every_issue14_figure_has_a_target_that_can_fail():
    checks = {name: check for name, _, check, _ in report.TARGETS}
    for name, bad in (("ddb_requests_per_execution", 18.6), ("ddb_requests_during_sends", 1),
                      ("api_handler_cpu_p95_ms", 5.1), ("cold_first_send_ms_lambda_equiv", 1001.0),
                      ("wait_lead_over_cold_path", 1.9), ("cold_first_order_lag_p99_ms", 50.1),
                      ("max_state_payload_bytes", 131073), ("lambda_package_max_mib", 250.1)):
        assert checks[name](bad) is False, name


def test_requests_between_an_accounts_first_and_last_send_are_counted_per_account():
    rec = Recorder()
    rec.calls.append((0, "dynamodb", "Query", "place_orders", "A"))      # before A's sends: not counted
    rec.sends.append((1, 2, "place_orders", "A"))
    rec.calls.append((3, "dynamodb", "GetItem", "place_orders", "A"))    # between A's sends
    rec.calls.append((4, "dynamodb", "GetItem", "place_orders", "B"))    # another account's thread
    rec.calls.append((5, "kms", "Decrypt", "place_orders", "A"))         # not DynamoDB
    rec.sends.append((6, 7, "place_orders", "A"))
    rec.calls.append((8, "dynamodb", "TransactWriteItems", "place_orders", "A"))  # after the last send
    assert _during_sends(rec) == {"A": 1}


def test_provisioned_concurrency_is_instances_x_memory_x_market_hours_x_days():
    p = prices()
    usd = provisioned_concurrency_cost({"place-orders": 10}, {"PlaceOrders": 1024}, "09:00", "15:35", p)
    assert abs(usd - 10 * 1.0 * (6 * 3600 + 35 * 60) * 21 * p["lambda_provisioned_gb_second_x86"]) < 1e-9


def test_cost_model_carries_secrets_kms_and_the_measured_lead():
    short = cost_run(synth=False, durations_s={"prepare": 0.1, "resolve": 0.0, "place_orders": 0.2, "finalize": 0.1},
                     wait_lead_s=2.0)
    longer = cost_run(synth=False, durations_s={"prepare": 0.1, "resolve": 0.0, "place_orders": 0.2, "finalize": 0.1},
                      wait_lead_s=5.0)
    assert longer["cost_month_lambda_engine_inr"] > short["cost_month_lambda_engine_inr"]  # PlaceOrders sleeps the lead
    assert short["cost_month_secrets_manager_inr"] > 0 and short["cost_month_kms_inr"] > 0
    assert short["cost_provisioned_concurrency_month_inr"] > 0 and short["cost_durations_measured"] == 1
    json.dumps(short, default=str)
