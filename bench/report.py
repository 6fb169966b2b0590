"""Writes BENCHMARKS.md from the results document (figures, targets, met?, method, misses)."""

from __future__ import annotations

from typing import Any

from bench.common import ROOT

#: (figure, target text, check(value) -> bool)
TARGETS = [
    ("isolated_first_order_lag_p50_ms", "<= 10 ms (one PlaceOrders Lambda per account, as deployed)", lambda v: v <= 10),
    ("isolated_first_order_lag_p99_ms", "<= 50 ms (one PlaceOrders Lambda per account, as deployed)", lambda v: v <= 50),
    ("isolated_orders_sent_early", "= 0", lambda v: v == 0),
    ("isolated_slot_completion_ratio", "<= 1.10 (accounts in parallel Lambdas)", lambda v: v <= 1.10),
    ("first_order_lag_p50_ms", "<= 10 ms (800 branches in ONE process on 2 cores)", lambda v: v <= 10),
    ("first_order_lag_p99_ms", "<= 50 ms (800 branches in ONE process on 2 cores)", lambda v: v <= 50),
    ("timing_unqueued_first_order_lag_p50_ms", "<= 10 ms (items the Map started at once)", lambda v: v <= 10),
    ("timing_unqueued_first_order_lag_p99_ms", "<= 50 ms (items the Map started at once)", lambda v: v <= 50),
    ("all_orders_lag_p99_ms", "(reported)", None),
    ("orders_sent_early", "= 0", lambda v: v == 0),
    ("slot_completion_ratio", "<= 1.10 (800 branches in ONE process on 2 cores)", lambda v: v <= 1.10),
    ("discovery_requests_ratio", ">= 50x", lambda v: v >= 50),
    ("discovery_gsi_requests_growth", "independent of users (x10 users)", lambda v: v <= 1.0),
    ("api_p95_ms", "<= 30 ms", lambda v: v <= 30),
    ("api_post_legs_p95_ms", "<= 30 ms", lambda v: v <= 30),
    ("api_post_allocations_p95_ms", "<= 30 ms", lambda v: v <= 30),
    ("api_get_strategy_p95_ms", "<= 30 ms", lambda v: v <= 30),
    ("place_orders_import_ms", "<= 300 ms", lambda v: v <= 300),
    ("preview_cpu_p95_ms", "<= 50 ms of our-code CPU (6-leg strategy preview, moto excluded)", lambda v: v <= 50),
    ("demo_exit_lag_fake_p99_ms", "<= 50 ms (the local demo's exit orders on the broker fakes, from sent_at)", lambda v: v <= 50),
    ("calculator_cpu_p95_ms", "<= 50 ms of our-code CPU (6-leg payoff/greeks)", lambda v: v <= 50),
    ("cost_per_execution_inr", "< Rs 2 (seed's claim)", lambda v: v < 2),
    ("cost_per_month_inr", "(reported)", None),
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def write_report(doc: dict[str, Any]) -> None:
    meta = doc["meta"]
    notes = meta.get("notes", {})
    rows = []
    for name, target, check in TARGETS:
        value = doc.get(name)
        met = "n/a" if value is None or check is None else ("yes" if check(value) else "**NO**")
        rows.append(f"| `{name}` | {_fmt(value)} | {target} | {met} |")
    figures = "\n".join(f"| `{k}` | {_fmt(v)} |" for k, v in doc.items() if k != "meta")
    cold = notes.get("coldstart") or {}
    heavy = ", ".join(f"{n} {ms} ms" for n, ms in cold.get("place_orders_heaviest_imports_ms", []))
    layer = ", ".join(f"{n} {mb} MiB" for n, mb in cold.get("layer_biggest_mib", []))
    text = f"""# Benchmarks

Rewritten by `make bench` (`python -m bench.run_all`, scale `{meta.get('scale')}`) on {meta.get('date')};
every figure below is also in `bench/results.json` under the same name. This file is generated:
edit `bench/report.py`, not this file.

## Machine

{meta.get('nproc')} CPUs ({meta.get('cpu')}), {meta.get('memory_mib')} MiB, Python {meta.get('python')},
{meta.get('platform')}; load average at start {meta.get('loadavg_at_start')}; commit {meta.get('git_commit')}.
A shared, noisy 2-core machine: figures are medians/percentiles and ratios from ONE run. `make bench`
took {_fmt(doc.get('bench_total_s'))} s.

## Figures against targets

| figure | value | target | met? |
|---|---|---|---|
{chr(10).join(rows)}

## Method

**1-2. Timing and slot throughput** (`bench/timing.py`). {doc.get('timing_users')} users x 2 PAPER accounts x 2
strategies (the seed iron condor, 4 legs, leg-level allocations to both accounts, built through the
OptionsService) due at 09:30:00 IST Mon 17 Aug 2026: {doc.get('timing_strategies')} strategies,
{doc.get('timing_events')} due events, {doc.get('timing_work_items')} PlaceOrders work items,
{doc.get('timing_orders')} orders. Paper brokers with a 20-50 ms simulated round trip (uniform, seeded) and
the per-account limiter (10 orders/s). Real time (`OffsetClock`): the emitter, then for each event
Prepare and Resolve (ahead of time: in AWS they are other Lambdas of parallel executions), then the
Wait ends {_fmt(doc.get('timing_map_lead_s'))} s before execute_at and EVERY event's Map starts at once, each
Map with the state machine's MaxConcurrency ({(notes.get('timing') or {}).get('configured_max_concurrency')}) on its
own thread pool, as the deployed Express state machine does per execution. Lag = `sent_at - execute_at`
from the stored OrderRecords; "first order" = earliest send per account; "unqueued" = only the work
items that the Map started immediately (the first 40 of each event: what one PlaceOrders Lambda
sleeping to execute_at achieves). Slot completion = last `acked_at` - execute_at
({_fmt(doc.get('slot_completion_ms'))} ms), bound = busiest account's {doc.get('timing_busiest_account_orders')} orders / 10 per s
+ one 50 ms round trip = {_fmt(doc.get('slot_completion_bound_ms'))} ms.

Harness choices that matter: moto 5 sorts EVERY item of the table on every base-table Query
(`Table.all_items()`), so the harness serves a base-table Query from its own partition
(`bench.common.fast_moto_queries`, same results and order); setup skips moto's whole-table deepcopy
before each TransactWriteItems (`fast_moto_transactions`, setup only). Even so, a moto request costs
~10-30 ms of CPU in this process, under the same GIL as the 800 sending threads: everything the
engine writes around the sends (intents before, order records after) competes with the sends
of other accounts for 2 cores, which one Lambda per account in AWS does not.

**3. Discovery** (`bench/discovery.py`). Users x 5 strategies, 20% entering at 09:30, both SCHEDULE
items per strategy exactly as `ScheduleRepository.item` builds them ({doc.get('discovery_large_users')} users =
{doc.get('timing_discovery_items') or '100,000'} items), put straight into moto's table. GSI2:
`due_in_slot(ENTRY, "09:30")` with the page size DynamoDB's 1 MB would give
({doc.get('discovery_large_items_per_page')} items of ~{doc.get('discovery_large_item_bytes')} B). Per-user (the seed):
one base-table Query per user on `SCHEDULE#`; its wall time is measured on
{doc.get('discovery_large_per_user_sampled_users')} users spread over all and scaled (moto answers ~25 ms per request
here). GSI2 requests at {doc.get('discovery_small_users')} users: {doc.get('discovery_small_gsi_requests')}; at
{doc.get('discovery_large_users')} users: {doc.get('discovery_large_gsi_requests')} (pages of the 1 MB limit: the count grows with the
number of DUE strategies / 3,084, not with users; one Query per slot and type).
Wall times are moto's (a GSI Query scans and sorts the whole table in moto).

**4. API** (`bench/api.py`). Local API server + moto server on 127.0.0.1, a real Cognito id token,
{doc.get('api_rounds')} rounds of POST legs (4), POST allocations/advanced (2), GET strategy, timed by the client.
The floor: one GetItem to the moto server costs {_fmt(doc.get('api_moto_getitem_p50_ms'))} ms (p50) here;
each route makes several DynamoDB requests (reads to validate, a transaction to write).

**5. Cold start** (`bench/coldstart.py`). `python -X importtime -c "import <handler>"` in a fresh
interpreter with the Lambda's environment variables, sum of the top-level cumulative times after
interpreter start-up, median of runs. Code asset = the files the construct stages
({_fmt(doc.get('code_asset_mib'))} MiB); layer = installed size of requirements.txt and its closure in the venv
({_fmt(doc.get('layer_installed_mib'))} MiB; Lambda's unzipped limit is 250 MiB for function + layers).
Heaviest imports under PlaceOrders: {heavy}. Biggest layer packages: {layer}.

**6. Cost** (`bench/cost.py`, prices in `bench/prices.json` with sources and the INR/USD rate).
Production templates synthesized fresh; 1,000 users x 3 strategies, ENTRY + EXIT = 6,000
executions per trading day, 21 trading days. DynamoDB requests per execution are the ones counted
in the timing run ({_fmt(doc.get('timing_dynamodb_reads_per_execution'))} reads,
{_fmt(doc.get('timing_dynamodb_writes_per_execution'))} writes). Durations assumed (Prepare 300 ms, Resolve 800 ms,
PlaceOrders 2.2 s per account because it sleeps the last 2 s, Finalize 200 ms) and one strategy per
Express execution of 120 s (worst case for batching). The NAT gateway is {_fmt((doc.get('cost_nat_share') or 0) * 100)} %
of the month; the variable part alone is Rs {_fmt(doc.get('cost_per_execution_variable_inr'))} per execution.

## Where targets are missed, why, and what would reach them

See the table: every **NO** row. Explanations (from this run's numbers):

- **Timing, queued items**: an event carries 25 strategies x 2 accounts = 50 work items but the
  Map's MaxConcurrency is 40: the last 10 of every event start only when a slot frees, AFTER
  execute_at (`timing_map_queued_items` = {doc.get('timing_map_queued_items')}, `timing_prewait_late_items` =
  {doc.get('timing_prewait_late_items')}). That is a property of the deployed state machine, not of this machine:
  fix by MaxConcurrency >= 2 x BATCH_SIZE (50) or BATCH_SIZE <= 20 for 2 accounts per strategy (or
  per-account batching). The unqueued figures show what one PlaceOrders achieves when it is sleeping
  at execute_at.
- **Timing on 2 cores**: all unqueued accounts wake in the same millisecond in ONE process; their
  sends are serialized by the GIL together with the moto writes of the others
  (`all_orders_lag_p99_ms`). In AWS each account's PlaceOrders is its own Lambda.
- **Slot completion**: the bound counts 8 orders / 10 per s = 0.8 s, but the limiter lets a burst
  of 10 through at once; what remains is 4 sequential sends per work item (hedges first) plus the
  queued items above.
- **API p95**: each route is several sequential DynamoDB requests to a moto server that answers one
  GetItem in ~{_fmt(doc.get('api_moto_getitem_p50_ms'))} ms on this machine (DynamoDB in-region: 3-6 ms).
- **PlaceOrders import**: dominated by the imports listed above (boto3/botocore, requests/urllib3,
  pyOpenSSL via the broker SDKs, powertools, pydantic). Importing the broker SDKs and boto3
  resources lazily (only when a LIVE account of that broker is in the work item) and not
  importing pyarrow/scipy on this path would reach the target; provisioned concurrency for
  PlaceOrders during the session removes cold starts at 09:15-15:30 altogether.
- **Cost**: the NAT gateway is a fixed monthly charge (static egress IP for the brokers) that
  dominates at 1,000 users; the per-execution variable cost is far below it.

## All figures

| figure | value |
|---|---|
{figures}
"""
    (ROOT / "BENCHMARKS.md").write_text(text)
