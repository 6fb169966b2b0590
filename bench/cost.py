"""Measure 6: AWS cost for 1,000 users x 3 strategies per trading day, in rupees.

Inputs:

- The production templates, synthesized fresh (``npx cdk synth -c env=production --quiet`` into a
  temporary directory): each Lambda's MemorySize, the state machine type (EXPRESS), the emitter's
  schedule (minutes per day), NAT gateways.
- Prices: bench/prices.json (ap-south-1 list prices with their source; INR/USD assumption).
- Counts measured by bench/timing.py: DynamoDB reads and writes per strategy execution (every
  request of Prepare, Resolve, PlaceOrders and Finalize over the slot, divided by executions).

Model (one "strategy execution" = one ENTRY or one EXIT of one strategy on one day; 3,000
strategies -> 6,000 executions per trading day, 21 trading days per month):

- Express state machine: one execution per event; conservatively ONE strategy per event (strategies
  spread over many slots; the emitter batches up to 25 per slot), duration billed from the start
  (emitter fires somewhere in minute T-2) to Finalize: 120 s average at the 64 MB minimum.
- Lambdas per execution (durations in ms, justified in BENCHMARKS.md): Prepare 300, Resolve 800,
  PlaceOrders 2,000 (it sleeps the last 2 s before execute_at, billed) + sends, per account
  (2 accounts), Finalize 200.
- Per-minute load independent of users: the emitter (every minute of its schedule, every day of
  the week as synthesized) and the 4 per-minute Lambdas it triggers on trading days (stop loss,
  duplicate orders, market data, order poller) at 300 ms each.
- DynamoDB: measured requests; a write of an item < 1 KB = 1 WRU (items here are 1-3 KB: x2),
  a strongly consistent read < 4 KB = 1 RRU, a Query page = its KB / 4.
- EventBridge: 1 due event + 1 completed event per execution (custom bus), 3 per-minute events.
- NAT gateways: hours x 730 per month each + its public IPv4 + 1 GB/month of broker traffic.
- CloudWatch Logs: 2 KB per Lambda invocation, 1 month kept.
- Secrets Manager and KMS (issue 14): every secret and key the templates create, the per-account
  postback checksum secrets (one per Zerodha account) and their reads (one GetSecretValue and one
  KMS Decrypt per postback), one KMS Decrypt per LIVE account per execution (the session envelope).
- Provisioned concurrency (issue 14): the per-environment option priced for production's counts
  (:func:`provisioned_concurrency_cost`), whether switched on or not.
- Issue 16, per trader: broker credentials (KMS envelope in DynamoDB vs a Secrets Manager secret
  per account or per trader: :func:`credentials_cost`) and the static egress IP per trader or
  family (Squid proxy with one EIP per group vs a NAT gateway per group: :func:`egress_cost`).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT

TRADING_DAYS_PER_MONTH = 21
CALENDAR_DAYS_PER_MONTH = 30
HOURS_PER_MONTH = 730


def prices() -> dict[str, float]:
    data = json.loads((ROOT / "bench" / "prices.json").read_text())
    return {k: v["value"] for k, v in data.items() if isinstance(v, dict)}


def synth_production(outdir: Path) -> dict[str, Any]:
    """Synthesize production; returns {memory_mb: {logical id prefix: MB}, nat: n, express: bool,
    emitter_minutes_per_day: n, secrets: n (AWS::SecretsManager::Secret), kms_keys: n}."""
    result = subprocess.run(["npx", "cdk", "synth", "-c", "env=production", "--quiet", "-o", str(outdir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=400)
    if result.returncode != 0:
        raise RuntimeError(f"cdk synth failed: {result.stderr[-800:]}")
    facts: dict[str, Any] = {"memory_mb": {}, "nat": 0, "express": False, "emitter_minutes_per_day": 0,
                             "secrets": 0, "kms_keys": 0}
    for template in outdir.glob("*production*.template.json"):
        resources = json.loads(template.read_text()).get("Resources", {})
        for logical, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::Lambda::Function" and "Function" in logical:
                facts["memory_mb"][logical.split("Function")[0]] = int(props.get("MemorySize", 128))
            elif kind == "AWS::EC2::NatGateway":
                facts["nat"] += 1
            elif kind == "AWS::SecretsManager::Secret":
                facts["secrets"] += 1
            elif kind == "AWS::KMS::Key":
                facts["kms_keys"] += 1
            elif kind == "AWS::StepFunctions::StateMachine":
                facts["express"] = props.get("StateMachineType") == "EXPRESS"
            elif kind == "AWS::Events::Rule" and logical.startswith("EmitterSchedule"):
                facts["emitter_minutes_per_day"] += _minutes(props.get("ScheduleExpression", ""))
    return facts


def _minutes(expression: str) -> int:
    """Minutes per day a cron(minute hour ...) rule fires (ranges, lists and * only)."""
    if not expression.startswith("cron("):
        return 0
    minute, hour = expression[5:-1].split()[:2]

    def count(field: str, size: int) -> int:
        if field == "*":
            return size
        total = 0
        for part in field.split(","):
            if "-" in part:
                low, high = part.split("-")
                total += int(high) - int(low) + 1
            else:
                total += 1
        return total

    return count(minute, 60) * count(hour, 24)


#: the durations used when no measurement is passed (seconds; the pre-issue-14 assumptions)
ASSUMED_DURATIONS_S = {"prepare": 0.3, "resolve": 0.8, "place_orders": 2.2, "finalize": 0.2}


def provisioned_concurrency_cost(functions: dict[str, int], memory_mb: dict[str, int], from_ist: str, to_ist: str,
                                 p: dict[str, float] | None = None) -> float:
    """USD per month of market-hours provisioned concurrency: instances x GB x seconds between
    ``from_ist`` and ``to_ist`` x trading days x the provisioned GB-s price (the duration of the
    invocations it serves bills at the lower provisioned rate: not counted as a saving here)."""
    p = p or prices()
    (h0, m0), (h1, m1) = (map(int, from_ist.split(":")), map(int, to_ist.split(":")))
    seconds = ((h1 * 60 + m1) - (h0 * 60 + m0)) * 60
    gb = sum(n * memory_mb.get(_camel(name), 1024) / 1024 for name, n in functions.items())
    return gb * seconds * TRADING_DAYS_PER_MONTH * p["lambda_provisioned_gb_second_x86"]


def _camel(name: str) -> str:
    """``place-orders`` -> ``PlaceOrders`` (the logical id prefix of the synthesized function)."""
    return "".join(part.capitalize() for part in name.split("-"))


def run(dynamodb_reads_per_execution: float = 30.0, dynamodb_writes_per_execution: float = 15.0,
        place_orders_send_ms: float = 200.0, users: int = 1000, strategies_per_user: int = 3,
        synth: bool = True, durations_s: dict[str, float] | None = None, wait_lead_s: float | None = None,
        cold_init_s: dict[str, float] | None = None, secret_reads_per_account_execution: float = 0.0,
        kms_calls_per_account_execution: float = 1.0, orders_per_execution: float = 8.0,
        zerodha_account_share: float = 0.5, postbacks_per_order: float = 2.0) -> dict[str, Any]:
    """Rupees per strategy execution and per month (plus the USD breakdown per month).

    Args:
        durations_s: MEASURED warm durations per task (``prepare``, ``resolve``, ``place_orders``
            without its sleep, ``finalize``; seconds); default :data:`ASSUMED_DURATIONS_S`.
        wait_lead_s: the Wait's lead before execute_at (measured through the ASL): PlaceOrders
            is billed while it sleeps it out, so its billed duration is lead + its own work.
        cold_init_s: measured cold init (import) per task, Lambda-equivalent seconds; billed
            (INIT is billed for on-demand functions) and counted for EVERY invocation (worst
            case: a slot's burst starts new containers).
        secret_reads_per_account_execution, kms_calls_per_account_execution: calls per LIVE
            account per execution (the session is a KMS envelope in the accounts table: one KMS
            Decrypt, no Secrets Manager read), per call priced.
        orders_per_execution, zerodha_account_share, postbacks_per_order: the postback side.
            Every Zerodha account has its own Secrets Manager secret (the postback checksum's
            api_secret, ``shared_utils.accounts.checksum_secrets``: $0.40 a month each) and every
            postback reads it (GetSecretValue, which decrypts with the customer key: one KMS call
            billed too). Kite posts back each status change of an order (OPEN, COMPLETE: 2).
    """
    p = prices()
    facts = {"memory_mb": {}, "nat": 1, "express": True, "emitter_minutes_per_day": 378, "secrets": 3, "kms_keys": 1}
    if synth:
        with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
            facts = synth_production(Path(tmp))
    mem = facts["memory_mb"]

    def gb(name: str, default: int = 512) -> float:
        return mem.get(name, default) / 1024

    executions_day = users * strategies_per_user * 2
    executions_month = executions_day * TRADING_DAYS_PER_MONTH
    accounts = 2
    measured = durations_s is not None
    d = dict(ASSUMED_DURATIONS_S)
    if durations_s:
        d.update({k: v for k, v in durations_s.items() if v == v})  # NaN-safe
        d["place_orders"] = (wait_lead_s if wait_lead_s is not None else 2.0) + d["place_orders"]
    init = cold_init_s or {}
    lambda_gbs = (gb("Prepare") * (d["prepare"] + init.get("prepare", 0.0))
                  + gb("Resolve", 1024) * (d["resolve"] + init.get("resolve", 0.0))
                  + accounts * gb("PlaceOrders", 1024) * (d["place_orders"] + init.get("place_orders", 0.0)
                                                          + (0 if measured else place_orders_send_ms / 1000))
                  + gb("Finalize") * (d["finalize"] + init.get("finalize", 0.0)))
    invocations = 3 + accounts
    usd: dict[str, float] = {}
    usd["lambda_engine"] = executions_month * (lambda_gbs * p["lambda_gb_second_x86"] + invocations * p["lambda_request"])
    minute_ticks = facts["emitter_minutes_per_day"] * CALENDAR_DAYS_PER_MONTH
    per_minute_lambdas = 4 * 375 * TRADING_DAYS_PER_MONTH
    usd["lambda_per_minute"] = (minute_ticks * (gb("Emitter") * 0.3 * p["lambda_gb_second_x86"] + p["lambda_request"])
                                + per_minute_lambdas * (0.5 * 0.3 * p["lambda_gb_second_x86"] + p["lambda_request"]))
    usd["step_functions_express"] = executions_month * (p["sfn_express_request"]
                                                        + 120 * (64 / 1024) * p["sfn_express_gb_second"])
    usd["eventbridge"] = (executions_month * 2 + 3 * 375 * TRADING_DAYS_PER_MONTH) * p["eventbridge_custom_event"]
    usd["dynamodb"] = executions_month * (dynamodb_reads_per_execution * p["dynamodb_read_request_unit"]
                                          + 2 * dynamodb_writes_per_execution * p["dynamodb_write_request_unit"])
    usd["nat_gateway"] = facts["nat"] * (HOURS_PER_MONTH * (p["nat_gateway_hour"] + p["public_ipv4_hour"])
                                         + 1 * p["nat_gateway_gb"])
    # Secrets Manager: every secret the templates create, per month, + the calls; KMS: every key
    # + one call per LIVE account per execution (the broker session's envelope)
    account_executions = executions_month * accounts
    checksum_secrets = users * accounts * zerodha_account_share
    postbacks = executions_month * orders_per_execution * zerodha_account_share * postbacks_per_order
    usd["secrets_manager"] = ((facts.get("secrets", 0) + checksum_secrets) * p["secretsmanager_secret_month"]
                              + (account_executions * secret_reads_per_account_execution + postbacks)
                              * p["secretsmanager_api_call"])
    usd["kms"] = (facts.get("kms_keys", 0) * p["kms_key_month"]
                  + (account_executions * kms_calls_per_account_execution + postbacks) * p["kms_request"])
    secrets_split = {"checksum_secrets": checksum_secrets, "postbacks_per_month": postbacks,
                     "checksum_secrets_inr_month": checksum_secrets * p["secretsmanager_secret_month"] * p["inr_per_usd"]}
    log_gb = (executions_month * invocations + minute_ticks + per_minute_lambdas) * 2 / 1024 / 1024
    usd["cloudwatch_logs"] = log_gb * (p["cloudwatch_logs_ingest_gb"] + p["cloudwatch_logs_store_gb_month"])
    total = sum(usd.values())
    fixed_secrets_keys = ((facts.get("secrets", 0) + checksum_secrets) * p["secretsmanager_secret_month"]
                          + facts.get("kms_keys", 0) * p["kms_key_month"])
    variable = total - usd["nat_gateway"] - usd["lambda_per_minute"] - fixed_secrets_keys
    rate = p["inr_per_usd"]
    out: dict[str, Any] = {
        "cost_executions_per_month": executions_month,
        "cost_per_month_inr": total * rate, "cost_per_month_usd": total,
        "cost_per_execution_inr": total * rate / executions_month,
        "cost_per_execution_variable_inr": variable * rate / executions_month,
        "cost_nat_share": usd["nat_gateway"] / total,
        "cost_inr_per_usd": rate,
    }
    for key, value in usd.items():
        out[f"cost_month_{key}_inr"] = value * rate
    for key, value in per_trader_costs(users, 2, executions_month, p).items():
        out[f"cost_{key}"] = value
    # the per-environment option (config provisioned_concurrency), priced whether on or off
    from shared_utils.config import load_environment

    option = load_environment("production").settings.provisioned_concurrency
    pc = provisioned_concurrency_cost(option.functions, mem, option.from_ist, option.to_ist, p)
    out["cost_provisioned_concurrency_month_inr"] = pc * rate
    out["cost_provisioned_concurrency_share_if_on"] = pc / (total + pc)
    out["cost_provisioned_concurrency_enabled"] = int(option.enabled)
    out["cost_month_checksum_secrets_inr"] = secrets_split["checksum_secrets_inr_month"]
    out["cost_durations_measured"] = int(measured)
    out["_notes"] = {"template_facts": facts, "lambda_gb_seconds_per_execution": lambda_gbs, "secrets": secrets_split,
                     "durations_s": d, "cold_init_s": init, "wait_lead_s": wait_lead_s,
                     "provisioned_concurrency": {"functions": option.functions, "from": option.from_ist,
                                                 "to": option.to_ist, "enabled": option.enabled},
                     "dynamodb_reads_per_execution": dynamodb_reads_per_execution,
                     "dynamodb_writes_per_execution": dynamodb_writes_per_execution}
    return out


def credentials_cost(accounts: int, traders: int, reads_per_month: float, writes_per_month: float,
                     p: dict[str, float] | None = None) -> dict[str, float]:
    """USD per month of storing broker credentials three ways (issue 16):

    - ``secret_per_account`` (the old layout): $0.40 x accounts + $0.05 per 10k calls;
    - ``secret_per_trader``: $0.40 x traders + the same calls (every write rewrites the trader's
      whole JSON; concurrent writes of two accounts race);
    - ``kms_envelope`` (chosen): one key ($1) + one KMS request per read (Decrypt) and per write
      (GenerateDataKey) at $0.03 per 10k; DynamoDB: one GetItem / PutItem per read / write (on
      demand, items < 4 KB / 1 KB x2).
    """
    p = p or prices()
    calls = reads_per_month + writes_per_month
    ddb = reads_per_month * p["dynamodb_read_request_unit"] + writes_per_month * 2 * p["dynamodb_write_request_unit"]
    return {
        "secret_per_account": accounts * p["secretsmanager_secret_month"] + calls * p["secretsmanager_api_call"],
        "secret_per_trader": traders * p["secretsmanager_secret_month"] + calls * p["secretsmanager_api_call"],
        "kms_envelope": p["kms_key_month"] + calls * p["kms_request"] + ddb,
    }


def egress_cost(groups: int, p: dict[str, float] | None = None) -> dict[str, float]:
    """USD per month of per-trader static egress for ``groups`` traders/families (issue 16):

    - ``proxy`` (chosen): one Squid instance (t4g.small up to 4 groups, t4g.xlarge up to 15; a
      second proxy beyond) + 8 GB gp3 + one public IPv4 per group ($0.005/h since Feb 2024);
    - ``nat_per_group``: a NAT gateway per group ($0.056/h + its IPv4) + 1 GB/month each.
    Broker traffic (a few MB per trader-day) is negligible either way.
    """
    p = p or prices()
    proxies = -(-groups // 15)
    instance = p["ec2_t4g_small_hour"] if groups <= 4 else p["ec2_t4g_xlarge_hour"]
    proxy = proxies * (HOURS_PER_MONTH * instance + 8 * p["ebs_gp3_gb_month"]) + groups * HOURS_PER_MONTH * p["public_ipv4_hour"]
    nat = groups * (HOURS_PER_MONTH * (p["nat_gateway_hour"] + p["public_ipv4_hour"]) + p["nat_gateway_gb"])
    return {"proxy": proxy, "proxy_per_group": proxy / groups, "nat_per_group": nat, "nat_per_group_each": nat / groups}


def per_trader_costs(traders: int = 1000, accounts_per_trader: int = 2, executions_per_month: int = 126_000,
                     p: dict[str, float] | None = None) -> dict[str, float]:
    """INR per trader-month of credentials and egress at ``traders`` (each its own group: the
    worst case; families share one). Reads: PlaceOrders reads each account's secret once per
    execution (2 accounts), plus logins, the pre-open refresh, reminders and the 15:45 logout
    (4 per account-day); writes: login, logout and reminder nonce (3 per account-day)."""
    p = p or prices()
    accounts = traders * accounts_per_trader
    reads = executions_per_month * accounts_per_trader + accounts * 4 * TRADING_DAYS_PER_MONTH
    writes = accounts * 3 * TRADING_DAYS_PER_MONTH
    cred = credentials_cost(accounts, traders, reads, writes, p)
    egress = egress_cost(traders, p)
    rate = p["inr_per_usd"]
    return {
        "credentials_secret_per_account_inr_per_trader_month": cred["secret_per_account"] * rate / traders,
        "credentials_secret_per_trader_inr_per_trader_month": cred["secret_per_trader"] * rate / traders,
        "credentials_kms_envelope_inr_per_trader_month": cred["kms_envelope"] * rate / traders,
        "credentials_kms_envelope_inr_month": cred["kms_envelope"] * rate,
        "credentials_secret_per_account_inr_month": cred["secret_per_account"] * rate,
        "egress_proxy_inr_per_trader_month": egress["proxy_per_group"] * rate,
        "egress_nat_per_group_inr_per_trader_month": egress["nat_per_group_each"] * rate,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=1, default=str))
