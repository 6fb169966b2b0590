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

Restarts and instances (issue 21):

- running it again on the same ``--state-dir`` resumes: the state is restored, the platform clock
  (without ``--at``) starts on the trading morning after the one the saved state had reached (a
  restart never rewinds time onto a day whose entries already ran), and the demo reuses its
  accounts, basket and strategy, moves them to the next slots and trades again;
- one instance per state dir: ``instance.lock`` (pid, port, API url; held with ``flock`` for the
  process's life, so a crashed instance never blocks) makes a second instance say which pid and
  port already run there, and exit 3 without touching the first one's files.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import socket
import signal
import sys
import threading
import traceback
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = ROOT / ".local-state"
DEFAULT_AT = "2026-08-17T09:29:30+05:30"
DEMO_USER = "demo@quantleap.local"


def build_parser() -> argparse.ArgumentParser:
    """Every option of ``./deploy.sh -e local`` (deploy.sh --help lists each of them)."""
    parser = argparse.ArgumentParser(prog="./deploy.sh -e local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="REST API port (default 8080; 0 = any free port)")
    parser.add_argument("--at", default=None, help=f"start the platform clock at this instant (default {DEFAULT_AT}, "
                                                    "or the next trading morning when resuming a saved state; "
                                                    "'now' = the real clock)")
    parser.add_argument("--no-demo", action="store_true", help="do not run the seed journey demo")
    parser.add_argument("--brokers", choices=("paper", "fake"), default="paper",
                        help="paper brokers (default) or the protocol fakes driven by the real SDKs")
    parser.add_argument("--token", metavar="USERNAME", help="print an ID token for USERNAME of the running platform")
    parser.add_argument("--enable-mfa", metavar="USERNAME",
                        help="set up TOTP MFA (Cognito software token) for USERNAME of the running platform and "
                             "print the authenticator secret (LIVE actions need it; moto's software-token flow)")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                        help="where state.json, runtime.json and instance.lock live (default .local-state); "
                             "one running platform per state dir")
    parser.add_argument("--exit-after", type=int, default=3, help="demo: minutes between entry and exit (default 3)")
    parser.add_argument("--lookahead", type=int, default=None, help="emitter lookahead in minutes (default: config)")
    parser.add_argument("--seed", type=int, default=17, help="market simulator seed (default 17)")
    parser.add_argument("--quit-after-demo", action="store_true", help="stop (and save) once the demo's exit has run")
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


# ---- one instance per state dir -----------------------------------------------------------------

LOCK_NAME = "instance.lock"


class InstanceRunning(RuntimeError):
    """Another live platform holds the state dir's lock; the message says which and what to do."""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0, ...) would signal our own process group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class InstanceLock:
    """``<state_dir>/instance.lock``: an exclusive ``flock`` held while the platform runs, and
    the holder's ``{"pid", "port", "api_url", "started_at"}`` for the message a second instance
    prints. The OS drops the lock when the process dies, so a stale file never blocks a start.

    Raises:
        InstanceRunning: from :meth:`acquire` when a live process holds it.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        return _read_json_file(self.path)

    def acquire(self) -> "InstanceLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise InstanceRunning(running_message(self.path.parent, self.holder())) from None
        self._fd = fd
        self.write(port=None, api_url=None)
        return self

    def write(self, port: int | None, api_url: str | None) -> None:
        """Record who holds the lock (the fd stays locked; the content is rewritten in place)."""
        if self._fd is None:
            return
        from shared_utils.clock import SystemClock

        # when the process started, on the real clock (the platform clock may be elsewhere: --at)
        data = json.dumps({"pid": os.getpid(), "port": port, "api_url": api_url,
                           "started_at": SystemClock().now().isoformat(timespec="seconds")}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def running_message(state_dir: Path, holder: dict[str, Any]) -> str:
    pid = holder.get("pid", "?")
    where = holder.get("api_url") or (f"port {holder['port']}" if holder.get("port") else "starting up")
    return (f"the local platform is already running on this state dir ({state_dir}): pid {pid}, API {where}.\n"
            f"  use it:          ./deploy.sh -e local --token you@example.com"
            f"{'' if state_dir == DEFAULT_STATE_DIR else f' --state-dir {state_dir}'}\n"
            f"  stop it:         Ctrl-C in its terminal (or kill {pid}); its state is saved\n"
            f"  run another one: ./deploy.sh -e local --state-dir OTHER_DIR --port OTHER_PORT")


def port_problem(port: int) -> str | None:
    """Why ``port`` cannot be served on 127.0.0.1 (None when it can; 0 = any port)."""
    if not port:
        return None
    with socket.socket() as sock:
        # as the API server binds (allow_reuse_address): a port left in TIME_WAIT by the previous
        # run is free, only a listening socket makes it busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return (f"port {port} on 127.0.0.1 is in use ({exc.strerror}): another local platform or program "
                    f"has it; choose one with --port N (0 = any free port)")
    return None


# ---- where the platform clock starts ------------------------------------------------------------

MORNING = "09:29:30"


def saved_clock(state_file: Path) -> datetime | None:
    """The platform clock the state file was saved at (``platform_clock``), else the latest
    ``created_at`` of its items (state files written before the clock was saved), else None."""
    from shared_utils.clock import parse_instant

    data = _read_json_file(state_file)
    if not data:
        return None
    if data.get("platform_clock"):
        return parse_instant(data["platform_clock"])
    latest = None
    for items in (data.get("tables") or {}).values():
        for item in items:
            text = (item.get("created_at") or {}).get("S")
            if text:
                try:
                    when = parse_instant(text)
                except ValueError:
                    continue
                latest = when if latest is None or when > latest else latest
    return latest


def start_instant(at: str | None, state_file: Path, calendar=None) -> tuple[datetime | None, str]:
    """Where the platform clock starts, and why (for the first line the platform prints).

    ``--at`` wins (``now`` = None: the real clock). Without it, a fresh state starts at
    ``DEFAULT_AT``; a saved state resumes at 09:29:30 IST of the trading day after the one it
    had reached (or DEFAULT_AT if that is later), so a restart trades again instead of finding
    the day's entries already done."""
    from datetime import time as dtime

    from shared_utils.clock import IST, parse_instant, to_ist

    if at == "now":
        return None, "the real clock (--at now)"
    if at:
        return parse_instant(at), "--at"
    default = parse_instant(DEFAULT_AT)
    reached = saved_clock(state_file)
    if reached is None or reached < default:
        return default, "the demo's trading morning"
    if calendar is None:
        from shared_utils.market.calendar import default_calendar

        calendar = default_calendar()
    day = calendar.next_trading_day(to_ist(reached).date())
    hh, mm, ss = (int(p) for p in MORNING.split(":"))
    start = datetime.combine(day, dtime(hh, mm, ss), tzinfo=IST)
    return start, (f"resuming on the trading morning after the saved state's {to_ist(reached):%a %d %b %H:%M} IST; "
                   "--at to choose")


class Narrator:
    """Prints what happens, for a person watching the terminal."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.done: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.watch: set[str] = set()
        #: (user_id, execution_id) -> the execution's OrderRecords (set by the platform once its
        #: repositories exist): lags are told from the orders' own ``sent_at``
        self.orders_of = None
        #: executions whose run crashed (the demo says so at the end)
        self.failures: list[str] = []

    def release(self, execution_id: str) -> None:
        """``execution_id`` will not run (again): stop waiting for it."""
        if execution_id in self.watch:
            self.watch.discard(execution_id)
            if not self.watch:
                self.finished.set()

    def order_lags(self, event: dict[str, Any]) -> tuple[float, float] | None:
        """(first, last) milliseconds from the target second to each order's recorded
        ``sent_at`` (the instant the send began, stored on the order), or None when unknown."""
        if self.orders_of is None or not event.get("user_id"):
            return None
        try:
            orders = self.orders_of(event["user_id"], event["execution_id"])
        except Exception:  # noqa: BLE001 - narration only
            return None
        lags = sorted(o.lag_ms for o in orders if o.lag_ms is not None
                      and getattr(o.purpose, "value", o.purpose) in (event["execution_type"], None))
        return (lags[0], lags[-1]) if lags else None

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
            measured = self.order_lags(event)
            if measured is not None:
                lags = (f"; orders sent {measured[0]:+.1f} ms to {measured[1]:+.1f} ms after the target second "
                        "(their recorded sent_at)")
            elif event.get("first_order_lag_ms") is not None:
                lags = f"; first order {event['first_order_lag_ms']:.1f} ms, last {event['last_order_lag_ms']:.1f} ms after target"
            self.say(f"{event['execution_type']} {event['execution_id']}: {event['status']} - "
                     f"{event['accepted']}/{event['orders']} orders accepted{lags}")
            for reason in event.get("reasons", [])[:6]:
                self.say(f"    reason: {reason}")
            event = {**event, "measured_lags_ms": measured}
            self.done.append(event)
            self.release(event["execution_id"])
        elif kind == "already_done":
            self.say(f"{event['execution_type']} {event['execution_id']}: already done ({event['status']}"
                     f"{', at ' + event['when'] if event.get('when') else ''}); it runs once per strategy and "
                     "day, so nothing is sent again")
            self.release(event["execution_id"])
        elif kind == "cancel":
            self.say(f"CANCEL {event.get('client_id', ''):<12} {event.get('purpose', '')} {event.get('order_key', '')}: "
                     f"{event.get('status', '')} (before the exit)")
        elif kind == "stop_loss_placed":
            self.say(f"STOP   {event.get('client_id', ''):<12} leg {event.get('leg_no')} trigger "
                     f"{event.get('trigger_price')}: {event.get('status')}")
        elif kind == "alert":
            self.say(f"ALERT {event.get('message') or event.get('kind') or event}")
        elif kind == "skipped":
            self.say(f"SKIPPED {event['execution_id']} ({event.get('strategy')}): {'; '.join(event['reasons'])}")
            self.release(event["execution_id"])
        elif kind == "failed":
            self.say(f"FAILED {event['execution_id']}: {'; '.join(event['reasons'])}")
            self.release(event["execution_id"])


class LocalPlatform:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_dir = Path(args.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        #: taken before anything else runs: a second instance stops here, touching nothing
        self.lock = InstanceLock(self.state_dir).acquire()
        self.api = None
        self.live = None
        self.fakes = None
        self.aws = None
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._consumer_locks: dict[str, threading.Lock] = {}
        self.notifications = None

    # -- start -------------------------------------------------------------------------------------
    def start(self) -> "LocalPlatform":
        os.environ["QL_ENV"] = "local"
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "local-platform")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QlAlgoTradingLocal")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        from local.api_server import ApiServer
        from local.aws import LocalAws
        from shared_utils.clock import IST, OffsetClock, SystemClock, set_default_clock
        from shared_utils.config import load_environment

        self.state_file = self.state_dir / "state.json"
        start, why = start_instant(self.args.at, self.state_file)
        self.clock = SystemClock() if start is None else OffsetClock(start)
        set_default_clock(self.clock)
        self.narrator = Narrator(self.clock)
        self.narrator.say(f"starting: platform clock {self.clock.now().astimezone(IST):%a %d %b %Y %H:%M:%S} IST "
                          f"({why}), brokers={self.args.brokers}")
        self.aws = LocalAws()
        self.aws.configure_environment()
        self.env = load_environment("local")
        self.aws.create_tables(self.env)
        self._egress()
        self.identity = self.aws.create_identity(self.env)
        restored = self.aws.load_state(self.state_file, self.identity)
        if restored:
            self.narrator.say(f"restored {restored} items from {self.state_file}")
        self._build_engine()
        from local.notifications import LocalNotifications  # issue 18: queue, topic, notifier, Telegram stand-in

        self.notifications = LocalNotifications(self.aws, self.env, self.clock, say=self.narrator.say).start()
        self.narrator.say(f"notifications: Telegram stand-in {self.notifications.telegram.url}, demo bot token "
                          f"{self.notifications.demo_token}, chat 100001 (Start pressed)")
        from local.aws import LOCAL_PASSWORD

        self.aws.ensure_user(self.identity, DEMO_USER)  # the web app's sign-in works with --no-demo too
        from local.live_ws import LocalLive

        # live updates (issue 19): the WebSocket API, fed by the table's stream from now on
        self.live = LocalLive(self.identity, self.env.table_name, self.clock).start()
        self.api = ApiServer(self.identity, self.args.port,
                             demo_user={"username": DEMO_USER, "password": LOCAL_PASSWORD}, live_url=self.live.url).start()
        runtime = {"moto_endpoint": self.aws.endpoint, "user_pool_id": self.identity.user_pool_id,
                   "client_id": self.identity.client_id, "api_url": self.api.url, "pid": os.getpid(),
                   "live_url": self.live.url}
        (self.state_dir / "runtime.json").write_text(json.dumps(runtime, indent=2))
        self.lock.write(port=self.api.port, api_url=self.api.url)
        self.narrator.say(f"REST API on {self.api.url} (moto on {self.aws.endpoint}); "
                          f"token: ./deploy.sh -e local --token you@example.com")
        self.narrator.say(f"live updates (WebSocket) on {self.live.url}?token=<ID token>")
        from local.web import WEB_DIST

        self.narrator.say(f"web app: {self.api.url}/app/  (sign in as {DEMO_USER} / {LOCAL_PASSWORD})"
                          + ("" if (WEB_DIST / "index.html").exists() else " - web/dist is not built: npm --prefix web run build"))
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
        self.narrator.orders_of = self.ctx.repos.orders.list_for_execution
        from shared_utils.services.market_status import set_api_context

        set_api_context(self.ctx)  # the market/preview API answers from this engine's market and clock

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
                    result = run_emitter(self.ctx, lookahead_minutes=self.args.lookahead, scheduled_at=minute)
                    if result.due:
                        self.narrator.say(f"emitter: {result.due} execution(s) due at {result.slot} IST "
                                          f"({result.events} event(s))")
                    for skipped in result.skipped[:5]:
                        self.narrator.say(f"emitter: {skipped['strategy_id']} not due: {skipped['reason']}")
                except Exception:  # noqa: BLE001 - the platform keeps ticking; say what broke
                    self.narrator.say("emitter failed:\n" + traceback.format_exc(limit=4))
            for _, detail_type, detail in self.publisher.drain():
                if self.notifications is not None:
                    self.notifications.on_bus_event(detail_type, detail)  # the notifications rule (issue 18)
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

    def _already_done(self, detail: dict[str, Any]) -> None:
        """Tell, before the run, which of the event's strategies already have this trade date's
        execution (the state machine will find the claim taken and do nothing for them)."""
        from datetime import date as date_

        from shared_utils.clock import to_ist
        from shared_utils.models.enums import ExecutionType

        try:
            execution_type = ExecutionType(detail["execution_type"])
            trade_date = date_.fromisoformat(detail["trade_date"])
        except (KeyError, ValueError):
            return
        for ref in detail.get("strategies", []):
            try:
                existing = self.ctx.repos.executions.get(ref["user_id"], ref["strategy_id"], execution_type, trade_date)
            except Exception:  # noqa: BLE001 - narration only
                continue
            if existing is None or existing.status.value in ("SCHEDULED", "CLAIMED", "IN_PROGRESS"):
                continue  # not run yet, or running now (a repeated event): its own run reports it
            when = getattr(existing, "completed_at", None) or existing.execute_at
            self.narrator.on_event({"event": "already_done", "execution_id": existing.execution_id,
                                    "execution_type": execution_type.value, "status": existing.status.value,
                                    "when": f"{to_ist(when):%a %d %b %H:%M:%S} IST" if when else None})

    def _run(self, run_state_machine, detail: dict[str, Any]) -> None:
        try:
            self._already_done(detail)
            run_state_machine(detail, self.ctx)
        except Exception:  # noqa: BLE001
            self.narrator.say("execution failed:\n" + traceback.format_exc(limit=6))
            self._release_failed(detail)

    def _release_failed(self, detail: dict[str, Any]) -> None:
        """A run that crashed reports nothing more: stop waiting for its executions (the demo
        ends, saying so) instead of waiting forever."""
        from datetime import date as date_

        from shared_utils.models.enums import ExecutionType
        from shared_utils.persistence import keys

        try:
            execution_type = ExecutionType(detail["execution_type"])
            trade_date = date_.fromisoformat(detail["trade_date"])
        except (KeyError, ValueError):
            return
        for ref in detail.get("strategies", []):
            execution_id = keys.execution_id(ref["strategy_id"], execution_type, trade_date)
            if execution_id in self.narrator.watch:
                self.narrator.failures.append(execution_id)
                self.narrator.release(execution_id)

    def _autosave(self) -> None:
        while not self.stop_event.wait(30):
            self.save()

    def save(self) -> None:
        try:
            self.aws.save_state(self.state_file, self.env, self.identity,
                                extra={"platform_clock": self.clock.now().isoformat()})
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
        if self.aws is not None:
            self.save()
            self.narrator.say(f"state saved to {self.state_file}; stopping")
        if self.api is not None:
            self.api.stop()
        if self.live is not None:
            self.live.stop()
        if self.fakes:
            self.fakes.stop()
        if self.notifications is not None:
            self.notifications.stop()
        if self.aws is not None:
            self.aws.stop()
        runtime_file = self.state_dir / "runtime.json"
        if _read_json_file(runtime_file).get("pid") == os.getpid():  # only ever our own
            runtime_file.unlink(missing_ok=True)
        self.lock.release()


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
    runtime = _read_json_file(runtime_file)
    if not runtime or not _pid_alive(int(runtime.get("pid") or 0)):
        where = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {state_dir}"
        stale = f" (runtime.json names pid {runtime.get('pid')}, which has ended)" if runtime else ""
        print(f"the local platform is not running on {state_dir}{stale}: start it with ./deploy.sh -e local{where}",
              file=sys.stderr)
        return 2
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
    problem = port_problem(args.port)
    try:
        platform = LocalPlatform(args)
    except InstanceRunning as exc:
        print(str(exc), file=sys.stderr)
        return 3
    if problem:
        platform.lock.release()
        print(problem, file=sys.stderr)
        return 3
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
