"""Every benchmark at a tiny scale (a few seconds) so `make test` keeps them from rotting; the
full run is `make bench`. Nothing here writes BENCHMARKS.md or bench/results.json."""

from bench.run_all import run


def test_every_benchmark_runs_at_a_tiny_scale():
    doc = run("quick", write=False)
    assert doc["orders_sent_early"] == 0
    assert doc["timing_orders_sent"] == doc["timing_orders"] > 0
    assert doc["first_order_lag_p50_ms"] is not None and doc["slot_completion_ratio"] > 0
    assert doc["discovery_gsi_requests"] >= 1 and doc["discovery_requests_ratio"] > 1
    assert doc["api_p95_ms"] > 0 and doc["place_orders_import_ms"] > 0
    assert doc["cost_per_execution_inr"] > 0 and doc["cost_per_month_inr"] > 0
    assert {"nproc", "memory_mib", "python", "date"} <= set(doc["meta"])
    # issue 14: counted through the real ASL runner, our-code CPU per API request
    assert doc["ddb_requests_per_execution"] > 0 and doc["ddb_requests_during_sends"] >= 0
    assert doc["requests_orders_sent_seed"] == 8 and doc["api_handler_cpu_p95_ms"] > 0
    assert doc["load_api_cpu"] >= 0
