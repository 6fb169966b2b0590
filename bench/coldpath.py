"""[cold_first_send_ms_lambda_equiv], [cold_first_order_lag_p99_ms], import times with and without
bytecode: the cold path after the state machine's Wait, in fresh Python 3.12 interpreters with the
layers ``deploy.sh`` builds (``build/layers``) and the code it stages (``build/code``, bytecode
shipped), as a Lambda container runs them.

Set-up: a moto server (this process, 127.0.0.1) holds the dev tables; one user with the seed
strategy (iron condor, 2 PAPER accounts) due at the next slot; the "Strategy Execution Due"
event runs through the execution state machine AS SYNTHESIZED (``asl_runner.run_events``). Every
PlaceOrders task of the Map is a NEW ``python3.12 -S`` process (``bench/_coldchild.py``):
``PYTHONPATH`` = build/code : build/layers/core/python : boto3/botocore (the runtime's, pinned
as in requirements.txt) and the handler invoked once with the Map's payload, against the moto
server (``AWS_ENDPOINT_URL``), on the platform clock (same offset as this process). The other
tasks run in this process (warm).

Time: the Wait ends by jumping the clock to its instant (no minutes of real waiting); from there
everything runs in real time: the child sleeps to ``execute_at`` for real. Two variants, each
``runs`` times: ``bytecode`` (the shipped pycs only, PYTHONDONTWRITEBYTECODE) and ``source`` (no
pre-existing bytecode at all: ``PYTHONPYCACHEPREFIX`` = a new empty directory, so every module
compiles, as on Lambda before this change).

Figures (ms):

- ``cold_first_send_ms_lambda_equiv``: for each account, the child's process CPU from
  interpreter start to its first send minus the CPU of its sleep, scaled by 1769 / MemorySize
  (Lambda gives one vCPU at 1,769 MB; PlaceOrders' MemorySize from the stack), plus 10 ms per
  AWS request it made before the send (DynamoDB in-region; assumed, see ``AWS_REQUEST_MS``: the
  wait measured here on the moto server and a loaded machine is reported apart as
  ``cold_place_orders_io_wait_ms``), plus, for every OTHER task that starts after the Wait (on the engine before
  issue 14's redesign: Resolve), its cold import scaled the same way plus its warm duration here.
  The max over accounts, median over runs. Variant ``bytecode`` is the headline; ``_source``
  is the same without bytecode.
- ``wait_lead_ms``: execute_at - the Wait's instant; ``wait_lead_over_cold_path`` = lead / the
  figure above (target >= 2).
- ``cold_first_order_lag_p99_ms``: sent_at - execute_at of each account's first order (the
  stored OrderRecords), p99 over every account of every run with bytecode (each PlaceOrders
  cold). ``cold_orders_not_sent``: orders a cold PlaceOrders refused (late: it was not ready
  at ``execute_at``); the lag figures cover only the sent ones.
- ``import_<module>_cold_ms`` / ``import_<module>_cold_source_ms``: the import alone of each
  engine handler in a fresh interpreter, with / without bytecode (median of runs, wall).

Every timing carries the load average (1 min) before and after; ``coldpath_inconclusive`` = 1
when other work's share was above 2 (the load at the start, or later minus this measure's own two
interpreters): the machine is shared, a figure taken then says little.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, median, percentile

BUILD = ROOT / "build"
RUNTIME = BUILD / "bench-runtime" / "python"
CHILD = ROOT / "bench" / "_coldchild.py"
ENGINE_MODULES = ("prepare", "resolve", "place_orders", "finalize")
LAMBDA_FULL_VCPU_MB = 1769
#: an AWS request (DynamoDB, Secrets Manager, KMS) from a Lambda in the region, ms: DynamoDB's
#: single-digit-ms p50 plus the HTTPS round trip (an ASSUMPTION; the moto server here answers
#: slower, and its wait is reported apart as cold_place_orders_io_wait_ms)
AWS_REQUEST_MS = 10.0


def python312() -> str:
    """The Python 3.12 to run children with (``PYTHON312``, ``python3.12``, or pyenv's)."""
    candidates = [os.environ.get("PYTHON312"), "python3.12", *sorted(str(p) for p in Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.stdout.strip() == "True":
            return candidate
    raise RuntimeError("no Python 3.12 found (set PYTHON312)")


def _boto_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        for name in ("boto3", "botocore"):
            if line.startswith(f"{name}=="):
                pins[name] = line.split("==", 1)[1]
    return pins


def ensure_build(py: str) -> dict[str, Any]:
    """Build what the children need if absent: the layers (``deploy.sh --layers-only``), the
    runtime's boto3/botocore (compiled like the runtime's), and always a fresh ``build/code``."""
    from cdk_stacks.constructs.layers import layers_built, stage_code

    notes: dict[str, Any] = {}
    if not layers_built():
        t0 = time.perf_counter()
        subprocess.run(["./deploy.sh", "-e", "dev", "--layers-only"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "PYTHON312": py}, timeout=900)
        notes["layers_built_s"] = round(time.perf_counter() - t0, 1)
    if not (RUNTIME / "botocore").is_dir():
        pins = _boto_pins()
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                        "--target", str(RUNTIME), *[f"{k}=={v}" for k, v in pins.items()]], check=True,
                       capture_output=True, timeout=600)
    if not (RUNTIME / "botocore" / "__pycache__").is_dir():  # the runtime's boto3 comes compiled
        subprocess.run([py, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(RUNTIME)],
                       capture_output=True, timeout=600)
    stage_code(py)
    return notes


def _child_env(variant: str, layers: tuple[str, ...], endpoint: str | None, cache: str | None) -> dict[str, str]:
    paths = [str(BUILD / "code")] + [str(BUILD / "layers" / n / "python") for n in layers] + [str(RUNTIME)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ":".join(paths), "PYTHONDONTWRITEBYTECODE": "1",
        "QL_ENV": "dev", "QL_CONFIG_FILE": str(BUILD / "code" / "config" / "environments.json"),
        "POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "QlAlgoTrading", "LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "1",
        "AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "ap-south-1", "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local", "SMARTAPI_LOG_DIR": tempfile.gettempdir(),
        "QL_MARKET_DATA_ACCOUNT": "simulator",
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if variant == "source":
        env["PYTHONPYCACHEPREFIX"] = cache or tempfile.mkdtemp(prefix="bench-nopyc-")
    return env


def run_child(py: str, spec: dict[str, Any], variant: str, layers: tuple[str, ...], endpoint: str | None = None,
              timeout: float = 120) -> dict[str, Any]:
    """One fresh interpreter running ``_coldchild.py`` with ``spec``; returns its measurements."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec = {**spec, "spawned_at": time.time()}
        spec_path.write_text(json.dumps(spec))
        env = _child_env(variant, layers, endpoint, str(Path(tmp) / "pycache"))
        done = subprocess.run([py, "-S", str(CHILD), str(spec_path), str(out_path)], capture_output=True, text=True,
                              env=env, cwd=tmp, timeout=timeout)
        if done.returncode != 0 or not out_path.exists():
            raise RuntimeError(f"cold child failed ({spec.get('module')}): {done.stderr[-1500:]}")
        return json.loads(out_path.read_text())


class JumpClock:
    """Real time from a chosen instant; ``sleep_until`` (the state machine's Wait, a Retry
    interval) JUMPS to the instant instead of sleeping, and records the real time it did."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - datetime.now(UTC)
        self.lock = threading.Lock()
        self.jumps: list[tuple[float, datetime]] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def sleep_until(self, instant: datetime) -> None:
        with self.lock:
            ahead = instant - self.now()
            if ahead > timedelta(0):
                self.offset += ahead
            self.jumps.append((time.time(), instant))

    def offset_s(self) -> float:
        return self.offset.total_seconds()


def _memory_mb() -> dict[str, int]:
    """MemorySize per engine function as the stack declares it (read from the stack's source
    call sites would be fragile; the synthesized dev template is the truth when synthesized)."""
    try:
        from aws_cdk import App

        from cdk_stacks.app_builder import build_app

        os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
        app = App(outdir=tempfile.mkdtemp(prefix="bench-synth-"),
                  context=dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}), env="dev"))
        build_app(app=app)
        assembly = app.synth()
        found = {}
        for stack in assembly.stacks:
            for resource in stack.template.get("Resources", {}).values():
                if resource["Type"] == "AWS::Lambda::Function":
                    name = resource["Properties"].get("FunctionName", "")
                    if isinstance(name, str):
                        found[name.removeprefix("ql-algo-trading-dev-")] = int(resource["Properties"].get("MemorySize", 128))
        return found
    except Exception as exc:  # noqa: BLE001 - fall back to the stack's declared 1024 MB
        print(f"bench.coldpath: synth for MemorySize failed ({exc}); using 1024 MB", file=sys.stderr)
        return {}


def _one_run(py: str, variant: str, aws: Any, env: Any, memory: dict[str, int], index: int) -> dict[str, Any]:
    """One entry execution with every PlaceOrders cold (a fresh 3.12 child)."""
    from bench.common import create_users, engine_context
    from shared_utils.clock import IST, parse_instant, to_ist
    from shared_utils.execution import asl_runner
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.persistence.repositories import Repositories

    repos = Repositories.for_environment(env)
    # each run its own slot of the seed's morning (Mon 17 Aug 2026, the bundled master's day
    # before expiry): nothing of an earlier run is due in it
    clock = JumpClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST) + timedelta(minutes=index))
    ctx = engine_context(repos, env, clock, latency=0.0)
    slot = (to_ist(clock.now()) + timedelta(minutes=env.settings.execution_engine.lookahead_minutes)).strftime("%H:%M")
    (user_id, clients, _), = create_users(repos, env, 1, 1, clock, entry_time=slot, prefix=f"c{variant[0]}{index}")
    run_emitter(ctx)
    (detail,) = [d for _, _, d in ctx.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
    execute_at = parse_instant(detail["execute_at"])
    starts: list[tuple[str, float]] = []
    children: list[dict[str, Any]] = []
    lock = threading.Lock()
    original = asl_runner.invoke_handler

    def invoke_handler(module: str, payload: Any, ctx_: Any, step: Any = None) -> Any:
        with lock:
            starts.append((module, time.time()))
        return original(module, payload, ctx_, step)

    def cold_place_orders(event: dict[str, Any], _ctx: Any) -> Any:
        spec = {"module": "lambda_functions.execution_engine.place_orders", "mode": "invoke", "event": event,
                "offset_s": clock.offset_s(), "memory_mb": memory.get("place-orders", 1024),
                "profile": bool(os.environ.get("BENCH_COLD_PROFILE"))}
        measured = run_child(py, spec, variant, ("core",), aws.endpoint)
        with lock:
            children.append(measured)
        return measured["result"]

    asl_runner.invoke_handler = invoke_handler
    try:
        run = asl_runner.run_events(detail, ctx, steps={"place_orders": cold_place_orders})
    finally:
        asl_runner.invoke_handler = original
    wait_end = clock.jumps[0][0] if clock.jumps else None
    wait_instant = clock.jumps[0][1] if clock.jumps else None
    orders = repos.orders.list_for_execution(user_id, run.output["results"][0]["execution_id"]) if (
        run.status == "SUCCEEDED" and run.output.get("results")) else []
    firsts: dict[str, float] = {}
    for order in orders:
        if order.lag_ms is not None:
            firsts[order.client_id] = min(firsts.get(order.client_id, float("inf")), order.lag_ms)
    map_start = min((t for m, t in starts if m == "place_orders"), default=float("inf"))
    after_wait = sorted({m for m, t in starts if wait_end is not None and wait_end <= t < map_start})
    not_sent = sum(int((child.get("result") or {}).get("not_sent") or 0) for child in children)
    return {"status": run.status, "error": run.error, "cause": (run.cause or "")[:300], "children": children,
            "not_sent": not_sent, "orders": len(orders),
            "first_lags_ms": list(firsts.values()), "after_wait_modules": after_wait,
            "wait_lead_ms": (execute_at - wait_instant).total_seconds() * 1000 if wait_instant else None,
            "accounts": len(clients)}


def _live_extra(py: str, aws: Any, env: Any, runs: int) -> dict[str, Any]:
    """What a LIVE Zerodha account adds to PlaceOrders' cold path (fresh 3.12 child, after the
    handler's import): the session secret read (GetItem + KMS Decrypt, the envelope of
    ``shared_utils.accounts.secrets``), the kiteconnect client, the first request on a new
    connection (HTTP to a fake Kite on 127.0.0.1: no TLS handshake, which a real broker adds)."""
    from datetime import UTC

    from local.fakes.kite import FakeKiteServer
    from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore, StoredSession
    from shared_utils.brokers import BrokerCredentials

    store = BrokerSecretStore(env)
    kms = store.kms  # a deployed stack creates the key and the alias (BROKER_SECRETS_KMS_KEY_ARN): here, once
    alias = f"alias/{env.prefix}/broker-secrets"
    if not any(a["AliasName"] == alias for a in kms.list_aliases()["Aliases"]):
        kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key(Description="bench broker secrets")["KeyMetadata"]["Arn"])
    name = store.name_for("bench-live", "ZLIVE01")
    fake = FakeKiteServer([])
    fake.start()
    try:
        now = datetime.now(UTC)
        store.create(name, AccountSecret(
            broker="zerodha", credentials=BrokerCredentials(api_key=fake.api_key, api_secret=fake.api_secret),
            session=StoredSession(access_token=fake.access_token, valid_until=now + timedelta(hours=12), obtained_at=now)))
        measured = [run_child(py, {"module": "lambda_functions.execution_engine.place_orders", "mode": "live",
                                   "secret_name": name, "root": fake.url}, "bytecode", ("core",), aws.endpoint)
                    for _ in range(runs)]
    finally:
        fake.stop()
    keys = ("secret_cpu_ms", "secret_wall_ms", "aws_requests", "aws_wall_ms", "client_cpu_ms", "connect_cpu_ms",
            "connect_wall_ms")
    return {key: median([m[key] for m in measured]) for key in keys}


def run(runs: int = 3, import_runs: int = 3) -> dict[str, Any]:
    from bench.common import fake_aws_environment
    from local.aws import LocalAws
    from shared_utils.config import load_environment
    from shared_utils.persistence.table import reset_clients

    fake_aws_environment()
    py = python312()
    notes: dict[str, Any] = {"python": py}
    notes.update(ensure_build(py))
    memory = _memory_mb()
    mem_po = memory.get("place-orders", 1024)
    scale = LAMBDA_FULL_VCPU_MB / mem_po
    out: dict[str, Any] = {"coldpath_place_orders_memory_mb": mem_po}
    loads = [os.getloadavg()[0]]

    # import times, fresh interpreter each, with and without bytecode
    layer_map = {"prepare": ("core", "science"), "resolve": ("core", "science"), "place_orders": ("core",),
                 "finalize": ("core", "science")}
    imports: dict[str, float] = {}
    for module in ENGINE_MODULES:
        for variant in ("bytecode", "source"):
            walls, cpus = [], []
            for _ in range(import_runs):
                measured = run_child(py, {"module": f"lambda_functions.execution_engine.{module}", "mode": "import"},
                                     variant, layer_map[module])
                walls.append(measured["import_wall_ms"])
                cpus.append(measured["import_cpu_ms"] + measured["startup_cpu_ms"])
            suffix = "" if variant == "bytecode" else "_source"
            out[f"import_{module}_cold{suffix}_ms"] = median(walls)
            imports[f"{module}{suffix}"] = median(cpus)
    loads.append(os.getloadavg()[0])

    saved = dict(os.environ)
    aws = LocalAws()
    per_variant: dict[str, list[dict[str, Any]]] = {"bytecode": [], "source": []}
    try:
        aws.configure_environment()
        reset_clients()
        env = load_environment("dev")
        aws.create_tables(env)
        index = 0
        for variant in ("bytecode", "source"):
            for _ in range(runs):
                per_variant[variant].append(_one_run(py, variant, aws, env, memory, index))
                index += 1
        try:
            live = _live_extra(py, aws, env, max(1, runs))
        except Exception as exc:  # noqa: BLE001 - the paper figures stand without it
            live = None
            notes["live_error"] = f"{type(exc).__name__}: {exc}"
    finally:
        aws.stop()
        reset_clients()
        os.environ.clear()
        os.environ.update(saved)
    loads.append(os.getloadavg()[0])

    for variant, results in per_variant.items():
        suffix = "" if variant == "bytecode" else "_source"
        equivs, cpu, io, lags, leads, requests, refused, parts = [], [], [], [], [], [], 0, []
        for result in results:
            if result["status"] != "SUCCEEDED" or not result["children"]:
                notes.setdefault("failed_runs", []).append({k: result[k] for k in ("status", "error", "cause")})
                continue
            others = sum(imports.get(m + suffix, 0.0) * LAMBDA_FULL_VCPU_MB / memory.get(m.replace("_", "-"), 1024)
                         for m in result["after_wait_modules"])
            per_account = []
            refused += result["not_sent"]
            for child in result["children"]:
                if "cpu_to_first_send_ms" not in child:
                    continue
                wait_ms = max(0.0, child["wall_to_first_send_ms"] - child["cpu_to_first_send_ms"])
                network = child.get("aws_requests_before_first_send", 0) * AWS_REQUEST_MS
                per_account.append(child["cpu_to_first_send_ms"] * scale + network + others)
                cpu.append(child["cpu_to_first_send_ms"])
                parts.append((child["startup_cpu_ms"], child["import_cpu_ms"],
                              child["cpu_to_first_send_ms"] - child["startup_cpu_ms"] - child["import_cpu_ms"]))
                io.append(wait_ms)
                requests.append(child.get("aws_requests_before_first_send", 0))
            if per_account:
                equivs.append(max(per_account))
            lags += result["first_lags_ms"]
            if result["wait_lead_ms"] is not None:
                leads.append(result["wait_lead_ms"])
            notes.setdefault(f"after_wait_modules{suffix}", result["after_wait_modules"])
        out[f"cold_first_send_ms_lambda_equiv{suffix}"] = median(equivs)
        out[f"cold_place_orders_cpu_to_send_ms{suffix}"] = median(cpu)
        out[f"cold_place_orders_io_wait_ms{suffix}"] = median(io)
        out[f"cold_first_order_lag_p99_ms{suffix}"] = percentile(lags, 99)
        out[f"cold_first_order_lag_max_ms{suffix}"] = max(lags) if lags else float("nan")
        out[f"cold_orders_sent_early{suffix}"] = sum(1 for lag in lags if lag < 0)
        out[f"cold_orders_not_sent{suffix}"] = refused
        if parts:  # where PlaceOrders' cold CPU goes: interpreter start, the handler's import, init + work to the send
            for i, part in enumerate(("startup", "import", "handler")):
                out[f"cold_place_orders_{part}_cpu_ms{suffix}"] = median([p[i] for p in parts])
        if cpu and requests:  # the MemorySize at which this variant's figure would be 1000 ms
            budget_ms = 1000 - median(requests) * AWS_REQUEST_MS
            out[f"cold_place_orders_memory_for_1000ms_mb{suffix}"] = (
                LAMBDA_FULL_VCPU_MB * median(cpu) / budget_ms if budget_ms > 0 else float("nan"))
        out[f"cold_place_orders_aws_requests_before_send{suffix}"] = median(requests)
        if leads:
            out["wait_lead_ms"] = min(leads)
    if live:
        extra = (live["secret_cpu_ms"] + live["client_cpu_ms"] + live["connect_cpu_ms"]) * scale \
            + live["aws_requests"] * AWS_REQUEST_MS + live["connect_wall_ms"]
        out["cold_live_account_extra_ms_lambda_equiv"] = extra
        out["cold_live_secret_read_cpu_ms"] = live["secret_cpu_ms"]
        out["cold_live_secret_read_aws_requests"] = live["aws_requests"]
        out["cold_live_secret_read_wall_ms"] = live["secret_wall_ms"]
        out["cold_live_broker_client_cpu_ms"] = live["client_cpu_ms"]
        out["cold_live_first_broker_request_wall_ms"] = live["connect_wall_ms"]
        if out.get("cold_first_send_ms_lambda_equiv") == out.get("cold_first_send_ms_lambda_equiv"):
            out["cold_first_send_ms_lambda_equiv_live"] = out["cold_first_send_ms_lambda_equiv"] + extra
    lead = out.get("wait_lead_ms")
    if lead and out.get("cold_first_send_ms_lambda_equiv"):
        out["wait_lead_over_cold_path"] = lead / out["cold_first_send_ms_lambda_equiv"]
    if lead and out.get("cold_first_send_ms_lambda_equiv_live"):
        out["wait_lead_over_cold_path_live"] = lead / out["cold_first_send_ms_lambda_equiv_live"]
    if lead and out.get("cold_first_send_ms_lambda_equiv_source"):
        out["wait_lead_over_cold_path_source"] = lead / out["cold_first_send_ms_lambda_equiv_source"]
    from cdk_stacks.constructs.layers import budget

    sizes = budget()  # code (staged, with bytecode) + layers (with bytecode), per function
    biggest = max(sizes, key=lambda row: row[2])
    out["lambda_package_max_mib"] = biggest[2] / 2**20
    pyc = sum(f.stat().st_size for f in BUILD.glob("layers/*/python/**/*.pyc"))
    out["layers_bytecode_mib"] = pyc / 2**20
    notes["largest_function"] = {"function": biggest[0], "layers": list(biggest[1])}
    # the load of OTHER work: at the start, then what exceeds this measure's own two interpreters
    out["coldpath_load_max"] = max([loads[0]] + [x - 2.0 for x in loads[1:]])
    out["coldpath_inconclusive"] = int(out["coldpath_load_max"] > 2)
    notes.update({"runs": runs, "import_runs": import_runs, "scale": scale, "loads_1min": [round(x, 2) for x in loads],
                  "memory_mb": {k: memory[k] for k in ("prepare", "resolve", "place-orders", "finalize") if k in memory}})
    out["_notes"] = notes
    return out


if __name__ == "__main__":  # pragma: no cover
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print(json.dumps(run(runs=runs, import_runs=1), indent=1, default=str))
