import { describe, expect, it, vi, beforeEach } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import type { Schemas } from "../api/client";
import { LegPreview } from "../components/LegPreview";
import { ClosePosition, KillSwitchPanel, modifyBody, OrderActions } from "../components/Actions";
import { EgressCell } from "./AccountsPage";
import HistoryPage, { pnlLines } from "./HistoryPage";
import { orderLag, positionQuantity, StopCell } from "./DashboardPage";
import { draftSchema, emptyDraft, ironCondorLegs, toCalculatorLegs, toLegs, unitsPerAccount, type Draft } from "../lib/strategyDraft";

function wrap(ui: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={client}><MemoryRouter>{ui}</MemoryRouter></QueryClientProvider>);
}
function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}
type Call = { method: string; path: string; body: unknown; accept: string | null };
/** fetch stand-in: answers by "METHOD /path", records every call with its parsed body. */
function serve(routes: Record<string, (call: Call) => Response>) {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", vi.fn(async (input: Request | string, init?: RequestInit) => {
    const req = typeof input === "string" ? new Request(input, init) : input;
    const url = new URL(req.url);
    const text = req.method === "GET" ? "" : await req.text();
    const call = { method: req.method, path: url.pathname + url.search, body: text ? JSON.parse(text) : null, accept: req.headers.get("Accept") };
    calls.push(call);
    const handler = routes[`${req.method} ${url.pathname}`];
    return handler ? handler(call) : json({ message: "no route" }, 404);
  }));
  return calls;
}

beforeEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.setItem("ql.session", JSON.stringify({ idToken: "tok", accessToken: "", email: "t@x.in", expiresAt: 0 }));
});

function condor(): Draft {
  return { ...emptyDraft(), strategy_name: "IC", legs: ironCondorLegs(), allocation_type: "LEG_LEVEL",
    accounts: [{ client_id: "Z1", selected: true, multiplier: 1, leg_lots: [3, 3, 1, 1] }, { client_id: "A2", selected: true, multiplier: 1, leg_lots: [1, 1, 4, 4] }] };
}

const PAYOFF = {
  legs: [
    { leg: 0, tradingsymbol: "NIFTY2681824300PE", expiry: "2026-08-18", strike: "24300", option_type: "PE", side: "SELL", lots: 2, lot_size: 65, quantity: 130, premium: "41.5", premium_source: "LTP", premium_value: "5395.00" },
    { leg: 1, tradingsymbol: "NIFTY2681823900PE", expiry: "2026-08-18", strike: "23900", option_type: "PE", side: "BUY", lots: 2, lot_size: 65, quantity: 130, premium: "12.05", premium_source: "LTP", premium_value: "-1566.50" },
    { leg: 2, tradingsymbol: "NIFTY2681825300CE", expiry: "2026-08-18", strike: "25300", option_type: "CE", side: "SELL", lots: 2, lot_size: 65, quantity: 130, premium: "38", premium_source: "LTP", premium_value: "4940.00" },
    { leg: 3, tradingsymbol: "NIFTY2681825700CE", expiry: "2026-08-18", strike: "25700", option_type: "CE", side: "BUY", lots: 2, lot_size: 65, quantity: 130, premium: "9.5", premium_source: "LTP", premium_value: "-1235.00" },
  ],
  net_premium: "7533.50", net_premium_kind: "CREDIT", underlying_level: "24800", as_of: "2026-08-17T04:00:00+00:00",
  payoff: { levels: [24000, 24800, 25600], at_expiry: [-44466.5, 7533.5, -44466.5], today: [-30000, 5000, -30000] },
  breakevens: [24242.05, 25357.95], max_profit: "7533.50", max_loss: "44466.50", quote: { source: "simulator", stale: false },
};

describe("builder: live leg preview", () => {
  it("asks the calculator for the legs' selection rules only once every leg has its value", () => {
    expect(toCalculatorLegs({ underlying: "NIFTY", legs: [{ ...ironCondorLegs()[0], values: {} }] })).toBeNull();
    const body = toCalculatorLegs({ underlying: "NIFTY", legs: ironCondorLegs() })!;
    expect(body.legs).toHaveLength(4);
    expect(body.legs[0]).toEqual({ side: "SELL", lots: 2, underlying: "NIFTY", option_type: "PE", expiry_type: "WEEKLY", expiry_offset: 0,
      strike_selection_config: { method: "DELTA", delta_value: 0.2 } });
    expect(body.legs[3]).toMatchObject({ side: "BUY", option_type: "CE", strike_selection_config: { method: "STRIKE_DISTANCE", strike_distance: 400 } });
  });

  it("shows each leg's contract, premium, quantity in lots and units, the net credit and the payoff extremes", async () => {
    const calls = serve({ "POST /options/calculator/payoff": () => json(PAYOFF) });
    wrap(<LegPreview draft={{ underlying: "NIFTY", legs: ironCondorLegs() }} />);
    const rows = await screen.findAllByTestId("preview-leg", {}, { timeout: 3000 });
    expect(rows).toHaveLength(4);
    expect(within(rows[0]).getByText("NIFTY2681824300PE")).toBeInTheDocument();
    expect(within(rows[0]).getByText("₹41.50")).toBeInTheDocument();
    expect(within(rows[0]).getByText("2 lots · 130 units")).toBeInTheDocument();
    expect(within(rows[1]).getByText("-₹1,566.50")).toBeInTheDocument();
    expect(screen.getByText("₹7,533.50", { selector: "td" })).toBeInTheDocument();
    expect(screen.getByText("Net premium (received)")).toBeInTheDocument();
    expect(screen.getByText("₹44,466.50")).toBeInTheDocument();
    expect(screen.getByText("24,242.05 · 25,357.95")).toBeInTheDocument();
    expect(await screen.findByRole("figure", { name: "Payoff chart" })).toBeInTheDocument();
    expect(calls[0].body).toMatchObject({ legs: [{ strike_selection_config: { method: "DELTA", delta_value: 0.2 } }, {}, {}, {}] });
  });

  it("gives each account's units from the lot size of the contract each leg picks", () => {
    expect(unitsPerAccount(condor(), [65, 65, 65, 65])).toEqual([
      { client_id: "Z1", units: [195, 195, 65, 65], total: 520 }, { client_id: "A2", units: [65, 65, 260, 260], total: 650 }]);
    expect(unitsPerAccount(condor(), [65, null, 65, 65])[0].total).toBeNull();
  });

  it("sends the risk step's stops, targets and trailing per leg, and refuses half a trailing stop", () => {
    const d = condor();
    d.legs[0] = { ...d.legs[0], stop_loss: "40", stop_loss_type: "POINTS", target: "80", target_type: "PERCENTAGE", trail_after: "20", trail_by: "10" };
    const leg = toLegs(d).legs[0];
    expect(leg).toMatchObject({ stop_loss: 40, stop_loss_type: "POINTS", target: 80, target_type: "PERCENTAGE", trailing_stop: { activate_after: 20, trail_by: 10 } });
    expect(toLegs(d).legs[1].trailing_stop).toBeNull();
    // journey 1's LIMIT slippages (seed_journey_1/03_add_legs.json): shorts 5 % (at most 10), hedges 3 % (at most 8)
    expect(toLegs(d).legs[0]).toMatchObject({ entry_slippage: 5, exit_slippage: 5, entry_max_slippage: 10, exit_max_slippage: 10 });
    expect(toLegs(d).legs[1]).toMatchObject({ entry_slippage: 3, exit_slippage: 3, entry_max_slippage: 8, exit_max_slippage: 8 });
    d.legs[1] = { ...d.legs[1], trail_after: "20", trail_by: "" };
    const bad = draftSchema.safeParse(d);
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join("."))).toContain("legs.1.trail_by");
  });
});

const ORDER = { order_key: "k1", tag: "QL1ABC", client_id: "Z1", leg_no: 1, lots: 3, lot_size: 65, quantity: 195, transaction_type: "BUY",
  tradingsymbol: "NIFTY2681824300PE", status: "TRIGGER_PENDING", order_type: "SL", price: "80", trigger_price: "78", purpose: "STOP_LOSS" } as unknown as Schemas["OrderRecord"];

describe("dashboard actions", () => {
  it("shows a position's quantity as short or long, lots and units", () => {
    expect(positionQuantity(-195, 65)).toBe("short 3 lots · 195 units");
    expect(positionQuantity(65, 65)).toBe("long 1 lot · 65 units");
    expect(positionQuantity(1800, undefined)).toBe("long 1,800 units");
    expect(positionQuantity(0, 65)).toBe("0 units");
  });

  it("gives a manual close no lag from a target second, and shows the stop as the broker holds it", () => {
    const exit = { ...ORDER, purpose: "EXIT", flags: ["MANUAL_CLOSE"], execute_at: "2026-08-17T04:02:00Z", sent_at: "2026-08-17T04:02:10.5Z" } as unknown as Schemas["OrderRecord"];
    expect(orderLag(exit)).toBeNull();
    expect(orderLag({ ...exit, flags: [] })).toBe(10500);
    render(<StopCell stop={{ order_id: "S1", broker_order_id: "B1", order_type: "SL", transaction_type: "BUY", quantity: 195, trigger_price: "39.15", price: "41.15", status: "TRIGGER_PENDING", source: "broker" }} />);
    expect(screen.getByText(/SL BUY 195 · trigger ₹39.15 · limit ₹41.15 · TRIGGER_PENDING/)).toBeInTheDocument();
    expect(screen.getByText("(broker's order book)")).toBeInTheDocument();
  });

  it("cancels a working order after a confirmation, by its public id", async () => {
    const calls = serve({ "POST /options/orders/QL1ABC/cancel": () => json({ status: "CANCELLED" }) });
    wrap(<OrderActions order={ORDER} />);
    await userEvent.click(screen.getByRole("button", { name: "Cancel BUY NIFTY2681824300PE" }));
    expect(calls).toHaveLength(0); // nothing sent before the confirmation
    await userEvent.click(screen.getByRole("button", { name: "Confirm cancel" }));
    await vi.waitFor(() => expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /options/orders/QL1ABC/cancel"]));
  });

  it("modifies only what changed, the quantity in units (lots x lot size), and shows the broker's refusal", async () => {
    const calls = serve({ "POST /options/orders/QL1ABC/modify": () => json({ statusCode: 409, message: "Kite: trigger price must be below the price for a BUY SL" }, 409) });
    wrap(<OrderActions order={ORDER} />);
    await userEvent.click(screen.getByRole("button", { name: "Modify BUY NIFTY2681824300PE" }));
    const form = screen.getByRole("form", { name: "Modify BUY NIFTY2681824300PE" });
    await userEvent.click(within(form).getByRole("button", { name: "Send" }));
    expect(within(form).getByRole("alert")).toHaveTextContent("Nothing changed");
    await userEvent.clear(within(form).getByLabelText("Trigger ₹"));
    await userEvent.type(within(form).getByLabelText("Trigger ₹"), "85");
    await userEvent.clear(within(form).getByLabelText("Lots"));
    await userEvent.type(within(form).getByLabelText("Lots"), "2");
    expect(within(form).getByText("2 lots · 130 units")).toBeInTheDocument();
    await userEvent.click(within(form).getByRole("button", { name: "Send" }));
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].body).toEqual({ trigger_price: 85, quantity: 130 });
    expect(await screen.findByText(/trigger price must be below/)).toBeInTheDocument();
    expect(modifyBody(ORDER, "80", "78", "0").problem).toMatch(/Lots/);
  });

  it("offers nothing on a filled order", () => {
    wrap(<OrderActions order={{ ...ORDER, status: "FILLED" }} />);
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("closes a position after a confirmation", async () => {
    const calls = serve({ "POST /options/positions/P-1/close": () => json({ position_id: "P-1", orders: [{ order_id: "X1", status: "FILLED", quantity: 195, transaction_type: "BUY" }], cancelled_orders: ["S1"], reasons: [], quantity_before: -195, quantity_after: 0 }) });
    const position = { position_id: "P-1", strategy_id: "s", client_id: "Z1", tradingsymbol: "NIFTY2681824300PE", exchange: "NFO", leg_no: 1, product: "NRML",
      quantity: -195, average_price: "41.5", ltp: "40", realised_pnl: "0", unrealised_pnl: "292.5", mtm: "292.5", status: "OPEN" };
    wrap(<ClosePosition position={position} />);
    await userEvent.click(screen.getByRole("button", { name: "Close Z1 NIFTY2681824300PE" }));
    await userEvent.click(screen.getByRole("button", { name: "Confirm close at market" }));
    await vi.waitFor(() => expect(calls.map((c) => c.path)).toEqual(["/options/positions/P-1/close"]));
    expect(await screen.findByText(/exit sent: 1 order, 1 cancelled first/)).toBeInTheDocument();
  });

  it("sets the kill switch with a reason and says that exits still run", async () => {
    let on = false;
    const state = () => ({ global_switch: { scope: "GLOBAL", on: false }, user: { scope: "USER", on, reason: on ? "news" : "", updated_at: "2026-08-17T04:00:00Z" }, accounts: [], stops_entries: on });
    const calls = serve({
      "GET /options/kill-switch": () => json(state()),
      "PUT /options/kill-switch": (c) => { on = (c.body as { on: boolean }).on; return json(state().user); },
    });
    wrap(<KillSwitchPanel />);
    expect(await screen.findByText("Entries allowed")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Stop all new entries" }));
    await userEvent.type(screen.getByLabelText("Reason"), "news");
    await userEvent.click(screen.getByRole("button", { name: "Confirm: stop new entries" }));
    expect(await screen.findByText("New entries are stopped")).toBeInTheDocument();
    expect(screen.getByTestId("kill-state")).toHaveTextContent("yours on since 17 Aug 2026, 09:30:00 IST: news");
    expect(screen.getByTestId("kill-state")).toHaveTextContent("Exits, stops and closes still run.");
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ on: true, reason: "news" });
  });
});

const charges = (total: string) => ({ brokerage: "0", stt: "0", exchange_txn: "0", ipft: "0", sebi: "0", stamp_duty: "0", gst: "0", total });
const PNL = {
  from_date: "2026-08-01", to_date: "2026-08-17", open_positions: 2, open_mtm: "1200", strategy_id: null,
  total: { gross: "12500.5", charges: charges("612.25"), net: "11888.25", orders: 16, executed_orders: 16, turnover: "0", brokers: [], warnings: [] },
  days: [{ date: "2026-08-17", gross: "12500.5", charges: charges("612.25"), net: "11888.25", orders: 16, executed_orders: 16, turnover: "0", brokers: [], warnings: [] }],
  accounts: [{ client_id: "Z1", gross: "10000", charges: charges("400"), net: "9600", orders: 8, executed_orders: 8, turnover: "0", brokers: [], warnings: [] },
             { client_id: "A2", gross: "2500.5", charges: charges("212.25"), net: "2288.25", orders: 8, executed_orders: 8, turnover: "0", brokers: [], warnings: [] }],
  strategies: [{ strategy_id: "s1", gross: "12500.5", charges: "612.25", net: "11888.25" }],
};

describe("history: P&L and CSV", () => {
  it("groups gross, charges and net per day, strategy and account", () => {
    const view = PNL as unknown as Schemas["PnlView"];
    expect(pnlLines(view, "account").map((l) => [l.label, l.net])).toEqual([["Z1", "9600"], ["A2", "2288.25"]]);
    expect(pnlLines(view, "strategy", { s1: "Weekly Iron Condor" })[0]).toMatchObject({ label: "Weekly Iron Condor", charges: "612.25" });
  });

  it("shows the totals in rupees and downloads the month's report as CSV (Accept: text/csv)", async () => {
    const csv = "date,client_id,gross,charges,net\n2026-08-17,Z1,10000.00,400.00,9600.00\n";
    const calls = serve({
      "GET /options/pnl": () => json(PNL),
      "GET /options/performance": () => json({ win_rate: "1", days_traded: 1, max_drawdown: "0" }),
      "GET /options/strategies": () => json({ items: [{ strategy_id: "s1", strategy_name: "Weekly Iron Condor" }] }),
      "GET /options/executions/history": () => json({ items: [] }),
      "GET /options/reports/monthly": () => new Response(csv, { headers: { "Content-Type": "text/csv; charset=utf-8" } }),
    });
    const created: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => { created.push(b); return "blob:x"; }) as unknown as typeof URL.createObjectURL;
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    wrap(<HistoryPage />);
    const total = await screen.findByTestId("pnl-total");
    expect(within(total).getByText("₹12,500.50")).toBeInTheDocument();
    expect(within(total).getByText("₹612.25")).toBeInTheDocument();
    expect(within(total).getByText("₹11,888.25")).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText("per account"));
    expect(within(screen.getByTestId("pnl-table")).getByRole("rowheader", { name: "A2" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: /Download 2026-08 CSV/ }));
    await vi.waitFor(() => expect(click).toHaveBeenCalled());
    const call = calls.find((c) => c.path.startsWith("/options/reports/monthly"))!;
    expect(call.path).toBe("/options/reports/monthly?month=2026-08");
    expect(call.accept).toBe("text/csv");
    expect(await created[0].text()).toBe(csv);
    click.mockRestore();
  });
});

describe("accounts: egress", () => {
  it("shows the IP to register with the broker, and says when there is none", () => {
    const { unmount } = render(<EgressCell egress={{ group: "g1", ip: "13.232.10.1", ip_since: "2026-08-10T00:00:00Z", next_change: null }} />);
    expect(screen.getByTestId("egress-ip")).toHaveTextContent("13.232.10.1");
    unmount();
    render(<EgressCell egress={null} />);
    expect(screen.getByText(/no per-trader egress/)).toBeInTheDocument();
  });
});
