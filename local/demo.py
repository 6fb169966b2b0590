"""The local demo: the seed's journey 1 sent verbatim over HTTP as the demo user, the legs'
missing selection values completed, two paper accounts linked, the entry set to the next slot
and the exit a few minutes later; then the run narrated order by order, and the P&L.

A second run on the same state carries on with its own data (issue 21): the accounts, the
basket "Conservative Income" and the strategy "Weekly Iron Condor NIFTY" it finds are reused
(legs and allocations are only added when missing), moved to the next slots and traded again.
If the chosen date's entry already ran (``--at`` onto a day the demo traded), it says so and
how to trade again instead of waiting for nothing.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared_utils.clock import to_ist

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "seed_journey_1"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "demo_fixtures"

#: the seed's legs say entry_by DELTA / STRIKE_DISTANCE without values: these complete them
SELECTION = {
    1: {"method": "DELTA", "delta_value": 0.20},
    2: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
    3: {"method": "DELTA", "delta_value": 0.20},
    4: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
}


def seed_requests() -> list[dict[str, Any]]:
    """The four requests of seed journey 1 (../shared when present, else the bundled copy)."""
    folder = FIXTURES if FIXTURES.exists() else LOCAL_FIXTURES
    return [json.loads((folder / name).read_text()) for name in
            ("01_create_basket.json", "02_create_strategy.json", "03_add_legs.json", "04_leg_level_allocations.json")]


class Demo:
    def __init__(self, platform) -> None:
        self.platform = platform
        self.say = platform.narrator.say
        self.token = platform.aws.id_token(platform.identity, "demo@quantleap.local")
        self.url = platform.api.url

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read().decode()
            return exc.code, json.loads(text) if text else None

    def _must(self, method: str, path: str, body: Any, expect: tuple[int, ...] = (200, 201)) -> Any:
        status, answer = self.http(method, path, body)
        self.say(f"  {method} {path} -> {status}")
        if status not in expect:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer

    def _all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list route (following ``next_token``)."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            status, page = self.http("GET", path + (f"?next_token={urllib.parse.quote(token)}" if token else ""))
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {page}")
            items.extend(page["items"])
            token = page.get("next_token")
            if not token:
                return items

    def _find_or_create(self, kind: str, items: list[dict[str, Any]], name_key: str, request: dict[str, Any],
                        path: str) -> dict[str, Any]:
        name = request["body"][name_key]
        found = next((i for i in items if i.get(name_key) == name and i.get("status") != "DELETED"), None)
        if found is not None:
            self.say(f"  {kind} '{name}' found from an earlier run: reusing it")
            return found
        return self._must(request["method"], path, request["body"])

    def setup(self) -> None:
        self.done_already = False
        self.say("DEMO: the seed's journey 1 (shared/fixtures/seed_journey_1) over HTTP as demo@quantleap.local")
        # PAPER accounts (the default mode) need no broker credentials: paper orders never reach a
        # broker (credentials are asked for when an account goes LIVE)
        for client_id, broker in (("ZERODHA123", "zerodha"), ("ANGELONE456", "angel")):
            status, _ = self.http("GET", f"/broker-accounts/{client_id}")
            if status == 200:
                self.say(f"  broker account {client_id} found from an earlier run: reusing it")
            else:
                self._must("POST", "/broker-accounts", {"broker": broker, "client_id": client_id,
                                                         "display_name": f"{broker.title()} (paper)"})
        basket_req, strategy_req, legs_req, alloc_req = seed_requests()
        basket = self._find_or_create("basket", self._all("/options/baskets"), "basket_name", basket_req,
                                      basket_req["path"])
        bid = basket["basket_id"]
        strategies = [s for s in self._all("/options/strategies") if s.get("basket_id") == bid]
        strategy = self._find_or_create("strategy", strategies, "strategy_name", strategy_req,
                                        strategy_req["path"].replace("basket_456", bid))
        sid = strategy["strategy_id"]
        detail = self._must("GET", f"/options/strategies/{sid}", None)
        if not detail["legs"]:
            self._must(legs_req["method"], legs_req["path"].replace("strategy_789", sid), legs_req["body"])
        if not detail["allocations"]:
            self._must(alloc_req["method"], alloc_req["path"].replace("strategy_789", sid), alloc_req["body"])
        detail = self._must("GET", f"/options/strategies/{sid}", None)
        if not detail["executable"]:
            self.say(f"  executable: {detail['executable']} - " + "; ".join(detail["executability_problems"][:2]))
            self.say("  completing the selection values the seed leaves out: SELL legs at delta 0.20, "
                     "BUY hedges 400 points out of the money")
            for leg_no, config in SELECTION.items():
                self._must("PUT", f"/options/strategies/{sid}/legs/{leg_no}", {"strike_selection_config": config})
        if detail["strategy"]["status"] != "ACTIVE":
            self.say(f"  the strategy is {detail['strategy']['status']}: activating it for the demo")
            self._must("POST", f"/options/strategies/{sid}/activate", None)
        now = to_ist(self.platform.clock.now())
        lookahead = self.platform.args.lookahead or self.platform.env.settings.execution_engine.lookahead_minutes
        entry = now.replace(second=0, microsecond=0) + timedelta(minutes=lookahead + (1 if now.second >= 45 else 0))
        exit_at = entry + timedelta(minutes=self.platform.args.exit_after)
        weekday = entry.strftime("%A").upper()
        self.strategy_id = sid
        from shared_utils.models.enums import ExecutionType
        from shared_utils.persistence import keys

        self.entry_id = keys.execution_id(sid, ExecutionType.ENTRY, entry.date())
        self.exit_id = keys.execution_id(sid, ExecutionType.EXIT, entry.date())
        from shared_utils.execution.guards import session_problem

        problem = session_problem(self.platform.ctx.calendar, entry) or session_problem(self.platform.ctx.calendar,
                                                                                         exit_at)
        if problem:
            self.done_already = True
            self.say(f"the demo cannot trade at {entry:%a %d %b %H:%M} IST: {problem}. Start without --at, or "
                     "--at a trading morning (e.g. 2026-08-17T09:29:30+05:30)")
            return
        status, earlier = self.http("GET", f"/options/executions/{self.entry_id}")
        if status == 200:
            record = earlier.get("execution", earlier)
            self.done_already = True
            self.say(f"the demo's entry for {entry:%a %d %b %Y} already ran ({record.get('status')}, "
                     f"{record.get('execution_id')}): an entry runs once per strategy and day, so nothing is "
                     "traded again today. To trade again: start without --at (the clock resumes on the next "
                     "trading morning), or --at a later trading day, or a fresh --state-dir")
            return
        self.say(f"  entry moved to the next slot {entry:%H:%M} and exit to {exit_at:%H:%M} IST, both on {weekday}")
        self._must("PUT", f"/options/strategies/{sid}", {"entry_time": f"{entry:%H:%M}", "exit_time": f"{exit_at:%H:%M}",
                                                         "entry_days": [weekday], "exit_days": [weekday]})
        summary = self._must("GET", f"/options/strategies/{sid}/allocations/summary?date={entry:%Y-%m-%d}", None)
        for account in summary["accounts"]:
            legs = ", ".join(f"leg {l['leg_no']} {l['lots']} lots = {l['quantity']}" for l in account["legs"])
            self.say(f"  {account['client_id']:<12} {legs}")
        lot = summary["legs"][0]
        self.say(f"  lot size {lot['lot_size']} from {lot['lot_size_source']}; total {summary['total_lots']} lots")
        self.platform.narrator.watch.update({self.entry_id, self.exit_id})
        self.say(f"waiting for the entry at {entry:%H:%M:%S} IST (the emitter announces it {lookahead} "
                 f"minute{'s' if lookahead != 1 else ''} ahead)")

    def follow(self) -> None:
        narrator = self.platform.narrator
        if self.done_already:
            return
        while not narrator.finished.wait(1):
            if self.platform.stop_event.is_set():
                return
        if narrator.failures:
            self.say(f"the demo's run of {', '.join(narrator.failures)} FAILED (the traceback is above); "
                     "the platform keeps its state: fix the cause and start again")
        status, positions = self.http("GET", f"/options/positions?strategy_id={self.strategy_id}")
        if status == 200:
            self.say("P&L after the exit (rupees; realised on closed positions):")
            for p in positions["items"]:
                self.say(f"  {p['client_id']:<12} {p['tradingsymbol']:<20} qty {p['quantity']:>5} "
                         f"realised {float(p['realised_pnl']):>10,.2f}")
            self.say(f"  TOTAL {float(positions['total_mtm']):,.2f}")
        if self.platform.args.quit_after_demo:
            self.say(f"demo complete; stopping as asked (--quit-after-demo). The state stays in "
                     f"{self.platform.state_dir}: ./deploy.sh -e local again resumes on the next trading morning")
        else:
            self.say(f"demo complete. The platform keeps running: API {self.url}; "
                     "history: GET /options/executions/history; Ctrl-C stops and saves state")
