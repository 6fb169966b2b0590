"""The platform on this machine: ``./deploy.sh -e local`` runs ``python -m local.platform``.

What it starts, all on 127.0.0.1 and nothing from AWS:

- a moto server with the tables, user pool and groups created from the definitions the CDK stacks
  use, restored from ``.local-state/state.json`` (saved every 30 s and on Ctrl-C);
- the REST API (the same Lambda handlers, behind Cognito token verification) on ``--port``;
- the scheduler: the emitter at every minute of the platform clock, each "Strategy Execution
  Due" event run through the state machine's steps in order (Prepare, Wait, Resolve, PlaceOrders
  per account in parallel, Finalize), and the per-minute checks the stack's bus rules run
  (Check Stop Loss, Check Duplicate Orders, the order poller after "Execution Completed", which
  places the broker-side stop losses once entries fill);
- brokers: paper brokers priced by a seeded market simulator (``--brokers paper``), or the
  protocol fakes spoken to by the real SDKs (``--brokers fake``);
- a clock that starts at ``--at`` (default Mon 17 Aug 2026 09:29:30 IST, the trading morning
  of the bundled 2026-08-18 instrument dump) and runs in real time;
- the demo (``--no-demo`` to skip): the seed's journey 1 over HTTP as the demo user, an entry at
  the next slot and an exit a few minutes later, narrated order by order.

``python -m local.platform --token USERNAME`` prints an ID token of the running platform's pool.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AT = "2026-08-17T09:29:30+05:30"
DEMO_USER = "demo@quantleap.local"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./deploy.sh -e local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="REST API port (default 8080; 0 = any free port)")
    parser.add_argument("--at", default=None, help=f"start the platform clock at this instant (default {DEFAULT_AT}; "
                                                    "'now' = the real clock)")
    parser.add_argument("--no-demo", action="store_true", help="do not run the seed journey demo")
    parser.add_argument("--brokers", choices=("paper", "fake"), default="paper",
                        help="paper brokers (default) or the protocol fakes driven by the real SDKs")
    parser.add_argument("--token", metavar="USERNAME", help="print an ID token for USERNAME of the running platform")
    parser.add_argument("--enable-mfa", metavar="USERNAME",
                        help="set up TOTP MFA (Cognito software token) for USERNAME of the running platform and "
                             "print the authenticator secret (LIVE actions need it; moto's software-token flow)")
    parser.add_argument("--state-dir", default=str(ROOT / ".local-state"), help="where state and runtime files live")
    parser.add_argument("--exit-after", type=int, default=3, help="demo: minutes between entry and exit (default 3)")
    parser.add_argument("--lookahead", type=int, default=None, help="emitter lookahead in minutes (default: config)")
    parser.add_argument("--seed", type=int, default=17, help="market simulator seed (default 17)")
    parser.add_argument("--quit-after-demo", action="store_true", help="stop once the demo's exit has run")
    return parser.parse_args(argv)


class Narrator:
    """Prints what happens, for a person watching the terminal."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.done: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.watch: set[str] = set()

    def say(self, text: str) -> None:
        from shared_utils.clock import to_ist

        stamp = to_ist(self.clock.now()).strftime("%H:%M:%S.%f")[:-3]
        with self._lock:
            print(f"[{stamp} IST] {text}", flush=True)

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "order":
            lag = event.get("lag_ms")
            lag_text = f"{lag:+8.1f} ms" if lag is not None else "     n/a   "
            price = event.get("average_price") or event.get("price") or "MKT"
            self.say(f"ORDER {lag_text}  {event['client_id']:<12} {event['transaction_type']:<4} "
                     f"{event['tradingsymbol']:<20} qty {event['quantity']:>5} @ {price:>8}  {event['status']}"
                     + (f"  ({event['message']})" if event.get("message") and event["status"] not in ("OPEN", "FILLED") else ""))
        elif kind == "execution":
            lags = ""
            if event.get("first_order_lag_ms") is not None:
                lags = f"; first order {event['first_order_lag_ms']:.1f} ms, last {event['last_order_lag_ms']:.1f} ms after target"
            self.say(f"{event['execution_type']} {event['execution_id']}: {event['status']} - "
                     f"{event['accepted']}/{event['orders']} orders accepted{lags}")
            for reason in event.get("reasons", [])[:6]:
                self.say(f"    reason: {reason}")
            self.done.append(event)
            if event["execution_id"] in self.watch:
                self.watch.discard(event["execution_id"])
                if not self.watch:
                    self.finished.set()
        elif kind == "skipped":
            self.say(f"SKIPPED {event['execution_id']} ({event.get('strategy')}): {'; '.join(event['reasons'])}")
        elif kind == "failed":
            self.say(f"FAILED {event['execution_id']}: {'; '.join(event['reasons'])}")


class LocalPlatform:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_dir = Path(args.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._consumer_locks: dict[str, threading.Lock] = {}

    # -- start -------------------------------------------------------------------------------------
    def start(self) -> "LocalPlatform":
        os.environ["QL_ENV"] = "local"
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "local-platform")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QlAlgoTradingLocal")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        from local.api_server import ApiServer
        from local.aws import LocalAws
        from shared_utils.clock import IST, OffsetClock, SystemClock, parse_instant, set_default_clock
        from shared_utils.config import load_environment

        at = self.args.at or DEFAULT_AT
        self.clock = SystemClock() if at == "now" else OffsetClock(parse_instant(at))
        set_default_clock(self.clock)
        self.narrator = Narrator(self.clock)
        self.narrator.say(f"starting: platform clock {self.clock.now().astimezone(IST):%a %d %b %Y %H:%M:%S} IST, "
                          f"brokers={self.args.brokers}")
        self.aws = LocalAws()
        self.aws.configure_environment()
        self.env = load_environment("local")
        self.aws.create_tables(self.env)
        self._egress()
        self.identity = self.aws.create_identity(self.env)
        self.state_file = self.state_dir / "state.json"
        restored = self.aws.load_state(self.state_file, self.identity)
        if restored:
            self.narrator.say(f"restored {restored} items from {self.state_file}")
        self._build_engine()
        self.api = ApiServer(self.identity, self.args.port).start()
        runtime = {"moto_endpoint": self.aws.endpoint, "user_pool_id": self.identity.user_pool_id,
                   "client_id": self.identity.client_id, "api_url": self.api.url, "pid": os.getpid()}
        (self.state_dir / "runtime.json").write_text(json.dumps(runtime, indent=2))
        self.narrator.say(f"REST API on {self.api.url} (moto on {self.aws.endpoint}); "
                          f"token: ./deploy.sh -e local --token you@example.com")
        return self

    def _egress(self) -> None:
        """Egress per trader locally (issue 16): the groups declared for ``local`` in
        config/egress.json leave from their own loopback address (127.0.0.2, 127.0.0.3, ...)."""
        from shared_utils.egress import ENV_VAR, declared_groups, local_routing

        groups = declared_groups("local")
        if groups and not os.environ.get(ENV_VAR):
            routing = local_routing(groups)
            os.environ[ENV_VAR] = json.dumps(routing)
            self.narrator.say("egress groups: " + ", ".join(f"{n} from {g['source_address']}" for n, g in routing.items()))

    def _build_engine(self) -> None:
        from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
        from shared_utils.execution.context import EngineContext, SimulatorMarketData
        from shared_utils.execution.events import InMemoryPublisher, set_default_publisher
        from shared_utils.market.calendar import default_calendar
        from shared_utils.market.simulator import MarketSimulator
        from shared_utils.services.market_data import instrument_master

        master = instrument_master()
        self.simulator = MarketSimulator(master, seed=self.args.seed, clock=self.clock,
                                         spots={"NIFTY": Decimal("24850"), "BANKNIFTY": Decimal("55400"),
                                                "SENSEX": Decimal("81300")})
        market = SimulatorMarketData(self.simulator)
        self.publisher = InMemoryPublisher()
        set_default_publisher(self.publisher)
        paper = PaperClientProvider(market.ltp, master, slippage_bps=5, now=self.clock.now)
        self.fakes = None
        effective = None
        if self.args.brokers == "fake":
            from local.fake_brokers import FakeBrokers

            self.fakes = FakeBrokers(master, lambda c: self.simulator.quote(c).ltp, ["NIFTY", "BANKNIFTY"])
            clients: Any = _FakeRouting(self.fakes, paper)
            effective = lambda account: account.broker.value  # noqa: E731 - every account goes to its fake
            self.narrator.say(f"broker fakes: Kite {self.fakes.kite.url}, SmartAPI {self.fakes.angel.url}, "
                              f"Noren {self.fakes.noren.url}")
        else:
            clients = RoutingClientProvider(paper, None)
        from shared_utils.persistence.repositories import Repositories

        self.ctx = EngineContext(repos=Repositories.for_environment(self.env), env=self.env, clock=self.clock,
                                 calendar=default_calendar(), master=master, market=market, clients=clients,
                                 publisher=self.publisher, observer=self.narrator.on_event,
                                 symbol_masters=self.fakes.symbol_masters if self.fakes else {},
                                 effective_broker=effective)

    # -- scheduler -----------------------------------------------------------------------------------
    def _scheduler(self) -> None:
        from shared_utils.clock import to_ist
        from shared_utils.execution.emitter import run_emitter
        from shared_utils.execution.events import EXECUTION_DUE
        from shared_utils.execution.runner import run_state_machine

        last_minute = None
        while not self.stop_event.is_set():
            now = to_ist(self.clock.now())
            minute = now.replace(second=0, microsecond=0)
            if minute != last_minute:
                last_minute = minute
                try:
                    result = run_emitter(self.ctx, lookahead_minutes=self.args.lookahead)
                    if result.due:
                        self.narrator.say(f"emitter: {result.due} execution(s) due at {result.slot} IST "
                                          f"({result.events} event(s))")
                    for skipped in result.skipped[:5]:
                        self.narrator.say(f"emitter: {skipped['strategy_id']} not due: {skipped['reason']}")
                except Exception:  # noqa: BLE001 - the platform keeps ticking; say what broke
                    self.narrator.say("emitter failed:\n" + traceback.format_exc(limit=4))
            for _, detail_type, detail in self.publisher.drain():
                # the bus rules of the execution-engine stack, played locally
                if detail_type == EXECUTION_DUE:
                    target, args = self._run, (run_state_machine, detail)
                elif detail_type in self.consumers:
                    target, args = self._consume, (detail_type, detail)
                else:
                    continue
                thread = threading.Thread(target=target, args=args, daemon=True, name=f"{detail_type}")
                thread.start()
                self.threads = [t for t in self.threads if t.is_alive()] + [thread]
            self.stop_event.wait(0.2)

    @property
    def consumers(self) -> dict[str, Any]:
        """detail-type -> the domain function its Lambda runs (same as the stack's rules)."""
        from shared_utils.execution.duplicate_checker import run_duplicate_checker
        from shared_utils.execution.events import CHECK_DUPLICATE_ORDERS, CHECK_STOP_LOSS, EXECUTION_COMPLETED
        from shared_utils.execution.order_poller import run_order_poller
        from shared_utils.execution.risk_monitor import run_stop_loss_checker

        def poll_after_completion(ctx, detail):
            scope = [{"user_id": detail["user_id"], "strategy_id": detail["strategy_id"]}] if detail.get("user_id") else None
            return run_order_poller(ctx, scope=scope)

        return {
            CHECK_STOP_LOSS: lambda ctx, detail: run_stop_loss_checker(ctx),
            CHECK_DUPLICATE_ORDERS: lambda ctx, detail: run_duplicate_checker(ctx),
            EXECUTION_COMPLETED: poll_after_completion,
        }

    def _consume(self, detail_type: str, detail: dict[str, Any]) -> None:
        with self._consumer_locks.setdefault(detail_type, threading.Lock()):  # one run per kind at a time
            try:
                self.consumers[detail_type](self.ctx, detail)
            except Exception:  # noqa: BLE001
                self.narrator.say(f"{detail_type} failed:\n" + traceback.format_exc(limit=4))

    def _run(self, run_state_machine, detail: dict[str, Any]) -> None:
        try:
            run_state_machine(detail, self.ctx)
        except Exception:  # noqa: BLE001
            self.narrator.say("execution failed:\n" + traceback.format_exc(limit=6))

    def _autosave(self) -> None:
        while not self.stop_event.wait(30):
            self.save()

    def save(self) -> None:
        try:
            self.aws.save_state(self.state_file, self.env, self.identity)
        except Exception as exc:  # noqa: BLE001
            self.narrator.say(f"could not save state: {exc}")

    def run(self) -> None:
        if not self.args.no_demo:
            from local.demo import Demo

            demo = Demo(self)
            demo.setup()
        for target in (self._scheduler, self._autosave):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
        if not self.args.no_demo:
            demo.follow()
            if self.args.quit_after_demo:
                return
        while not self.stop_event.is_set():
            self.stop_event.wait(1)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.save()
        self.narrator.say(f"state saved to {self.state_file}; stopping")
        self.api.stop()
        if self.fakes:
            self.fakes.stop()
        self.aws.stop()
        (self.state_dir / "runtime.json").unlink(missing_ok=True)


class _FakeRouting:
    """Fake mode: each account goes to the fake of its broker (paper accounts to paper)."""

    def __init__(self, fakes, paper) -> None:
        self.fakes = fakes
        self.paper = paper
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client_for(self, account):
        if account.broker.value == "paper":
            return self.paper.client_for(account)
        from shared_utils.egress import EgressConfig, apply_route

        group = EgressConfig.from_env().route_for(account.user_id, account.client_id)  # no group: refused
        with self._lock:
            if account.client_id not in self._clients:
                self._clients[account.client_id] = apply_route(
                    self.fakes.client(account.broker.value, account.client_id), group)
            return self._clients[account.client_id]


def print_token(username: str, state_dir: Path) -> int:
    """Print an ID token for ``username`` from the RUNNING platform's pool (created if needed)."""
    import boto3

    runtime_file = state_dir / "runtime.json"
    if not runtime_file.exists():
        print("the local platform is not running: start it with ./deploy.sh -e local", file=sys.stderr)
        return 2
    runtime = json.loads(runtime_file.read_text())
    from local.aws import LOCAL_PASSWORD

    cognito = boto3.client("cognito-idp", endpoint_url=runtime["moto_endpoint"], region_name="ap-south-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    pool, client_id = runtime["user_pool_id"], runtime["client_id"]
    email = username if "@" in username else f"{username}@quantleap.local"
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=email)
    except cognito.exceptions.UserNotFoundException:
        cognito.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email},
                                                  {"Name": "email_verified", "Value": "true"}])
        cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=LOCAL_PASSWORD, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName="TRADER")
    result = cognito.admin_initiate_auth(UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                         AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD})
    print(result["AuthenticationResult"]["IdToken"])
    return 0


def enable_mfa(username: str, state_dir: Path) -> int:
    """Run Cognito's software-token MFA setup for ``username`` on the RUNNING platform's pool
    (the same calls as in AWS: AssociateSoftwareToken, VerifySoftwareToken,
    SetUserMFAPreference) and print the TOTP secret to put in an authenticator app."""
    import boto3

    runtime_file = state_dir / "runtime.json"
    if not runtime_file.exists():
        print("the local platform is not running: start it with ./deploy.sh -e local", file=sys.stderr)
        return 2
    runtime = json.loads(runtime_file.read_text())
    from local.aws import LOCAL_PASSWORD
    from shared_utils.accounts.mfa import enable_software_token_mfa

    cognito = boto3.client("cognito-idp", endpoint_url=runtime["moto_endpoint"], region_name="ap-south-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    email = username if "@" in username else f"{username}@quantleap.local"
    try:
        cognito.admin_get_user(UserPoolId=runtime["user_pool_id"], Username=email)
    except cognito.exceptions.UserNotFoundException:
        print(f"no user {email}: create it first with --token {username}", file=sys.stderr)
        return 2
    secret = enable_software_token_mfa(cognito, runtime["user_pool_id"], runtime["client_id"], email, LOCAL_PASSWORD)
    print(f"TOTP MFA enabled for {email}; authenticator secret: {secret}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.token:
        return print_token(args.token, Path(args.state_dir))
    if args.enable_mfa:
        return enable_mfa(args.enable_mfa, Path(args.state_dir))
    platform = LocalPlatform(args)
    stopping = threading.Event()

    def _stop(signum, frame):  # noqa: ARG001
        if not stopping.is_set():
            stopping.set()
            platform.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    platform.start()
    try:
        platform.run()
    finally:
        platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
