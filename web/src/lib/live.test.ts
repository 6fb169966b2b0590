import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createElement } from "react";
import { act, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { setConfig, config } from "./config";
import DashboardPage from "../pages/DashboardPage";
import { LiveConnection, LIVE_SAFETY_POLL_MS, liveStatusText, useLiveUpdates, type LiveMessage, type LiveState } from "./live";

/** A WebSocket the test drives: open, message, drop (as a server restart or a network loss). */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  message(payload: unknown) {
    this.onmessage?.({ data: JSON.stringify(payload) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
  static latest(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
}

const Impl = FakeSocket as unknown as typeof WebSocket;

function order(key: string, status: string, lag: number | null) {
  return { type: "ORDER_STATUS", data: { order_key: key, execution_id: "stg.20260817.E", client_id: "ZERODHA123", tradingsymbol: "NIFTY2681824700PE", transaction_type: "BUY", quantity: 195, status, lag_ms: lag } };
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  sessionStorage.clear();
});

describe("LiveConnection", () => {
  it("connects with the ID token, delivers messages, and reconnects with a growing delay after a drop", () => {
    const states: LiveState[] = [];
    const messages: LiveMessage[] = [];
    let token = "token-1";
    const connection = new LiveConnection({ url: "ws://127.0.0.1:9/execution/live", token: () => token, WebSocketImpl: Impl,
      onState: (s) => states.push(s), onMessage: (m) => messages.push(m), delaysMs: [1000, 2000, 5000] });
    connection.start();
    expect(FakeSocket.latest().url).toBe("ws://127.0.0.1:9/execution/live?token=token-1");
    FakeSocket.latest().open();
    FakeSocket.latest().message(order("K1", "FILLED", 7.5));
    FakeSocket.latest().onmessage?.({ data: "not json" }); // ignored, no crash
    expect(states).toEqual(["live"]);
    expect(messages.map((m) => m.data.order_key)).toEqual(["K1"]);

    // the server goes away: polling at once, a retry after 1 s with a fresh token
    token = "token-2";
    FakeSocket.latest().drop();
    expect(states).toEqual(["live", "polling"]);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.latest().url).toContain("token=token-2");
    // refused again: the next retry waits 2 s, then 5 s, then stays at 5 s
    FakeSocket.latest().drop();
    vi.advanceTimersByTime(1999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    FakeSocket.latest().drop();
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.all).toHaveLength(4);
    FakeSocket.latest().open();
    expect(states).toEqual(["live", "polling", "live"]);
    // after a good connection the delays start over
    FakeSocket.latest().drop();
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.all).toHaveLength(5);
    connection.stop();
    vi.advanceTimersByTime(60000);
    expect(FakeSocket.all).toHaveLength(5); // stopped: no more attempts
  });

  it("pings while open so API Gateway's idle timeout never closes the feed", () => {
    const connection = new LiveConnection({ url: "ws://x/execution/live", token: () => "t", WebSocketImpl: Impl,
      onState: () => {}, onMessage: () => {}, pingMs: 1000 });
    connection.start();
    FakeSocket.latest().open();
    vi.advanceTimersByTime(3000);
    expect(FakeSocket.latest().sent).toEqual(Array(3).fill('{"action":"ping"}'));
    connection.stop();
  });

  it("polls when there is no feed URL or no signed-in user, without opening a socket", () => {
    const states: LiveState[] = [];
    new LiveConnection({ url: null, token: () => "t", WebSocketImpl: Impl, onState: (s) => states.push(s), onMessage: () => {} }).start();
    new LiveConnection({ url: "ws://x", token: () => null, WebSocketImpl: Impl, onState: (s) => states.push(s), onMessage: () => {} }).start();
    expect(states).toEqual(["polling", "polling"]);
    expect(FakeSocket.all).toHaveLength(0);
  });
});

function Probe() {
  const live = useLiveUpdates({ pollMs: 3000, url: "ws://127.0.0.1:9/execution/live", WebSocketImpl: Impl, delaysMs: [1000] });
  return createElement("div", null,
    createElement("p", { role: "status" }, liveStatusText(live.state, 3000)),
    createElement("span", { "data-testid": "interval" }, String(live.refetchInterval)),
    createElement("ul", null, live.orders.map((o) => createElement("li", { key: o.order_key }, `${o.order_key} ${o.status} ${o.lag_ms} ms`))));
}

describe("useLiveUpdates", () => {
  it("says when live updates pause and the page polls instead, and resumes when the socket is back", async () => {
    sessionStorage.setItem("ql.session", JSON.stringify({ idToken: "id-token", accessToken: "a", email: "t@x", expiresAt: 0 }));
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    render(createElement(QueryClientProvider, { client }, createElement(Probe)));
    expect(screen.getByRole("status").textContent).toMatch(/Connecting live updates/);
    expect(screen.getByTestId("interval").textContent).toBe("3000");

    act(() => FakeSocket.latest().open());
    expect(screen.getByRole("status").textContent).toMatch(/Live updates connected/);
    expect(screen.getByTestId("interval").textContent).toBe(String(LIVE_SAFETY_POLL_MS));
    act(() => FakeSocket.latest().message(order("K1", "SENT", 7)));
    act(() => FakeSocket.latest().message(order("K1", "FILLED", 7)));
    act(() => FakeSocket.latest().message(order("K2", "FILLED", 11.1)));
    expect(screen.getAllByRole("listitem").map((li) => li.textContent)).toEqual(["K2 FILLED 11.1 ms", "K1 FILLED 7 ms"]);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["execution", "stg.20260817.E"] });
    act(() => FakeSocket.latest().message({ type: "POSITION_UPDATE", data: { tradingsymbol: "X" } }));
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["positions"] });

    act(() => FakeSocket.latest().drop());
    expect(screen.getByRole("status").textContent).toBe("Live updates paused, polling every 3 s.");
    expect(screen.getByTestId("interval").textContent).toBe("3000");

    invalidate.mockClear();
    act(() => vi.advanceTimersByTime(1000));
    act(() => FakeSocket.latest().open());
    expect(screen.getByRole("status").textContent).toMatch(/Live updates connected/);
    expect(invalidate).toHaveBeenCalledWith(); // caught up on everything missed while dropped
  });
});

describe("DashboardPage live wiring", () => {
  it("shows orders arriving live with their lag from the target second, and says when it falls back to polling", async () => {
    vi.useRealTimers();
    const saved = config();
    setConfig({ ...saved, liveUrl: "ws://127.0.0.1:9/execution/live" } as typeof saved);
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal("fetch", vi.fn(async (req: Request) => {
      const path = new URL(req.url).pathname;
      const body = path.endsWith("/schedule") ? { date: "2026-08-17", trading_day: true, items: [] }
        : path.endsWith("/positions") ? { items: [], total_mtm: "0" } : { items: [] };
      return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    }));
    sessionStorage.setItem("ql.session", JSON.stringify({ idToken: "id-token", accessToken: "a", email: "t@x", expiresAt: 0 }));
    try {
      render(createElement(QueryClientProvider, { client: new QueryClient() }, createElement(DashboardPage)));
      expect(FakeSocket.latest().url).toBe("ws://127.0.0.1:9/execution/live?token=id-token");
      act(() => FakeSocket.latest().open());
      act(() => FakeSocket.latest().message({ type: "ORDER_STATUS", data: { ...order("K1", "FILLED", 7).data, purpose: "ENTRY", sent_at: "2026-08-17T04:00:00.007Z" } }));
      const row = await screen.findByTestId("live-order-row");
      expect(row.textContent).toContain("09:30:00");
      expect(row.textContent).toContain("+7 ms");
      expect(row.textContent).toContain("NIFTY2681824700PE");
      expect(screen.getAllByRole("status")[0].textContent).toMatch(/Live updates connected/);
      act(() => FakeSocket.latest().message({ type: "SYSTEM_ALERT", data: { kind: "ORDER_REJECTED", severity: "critical", timestamp: "2026-08-17T04:00:01Z",
        message: "ENTRY order SELL 195 NIFTY2681825250CE in ZERODHA123 is REJECTED: Insufficient margin" } }));
      expect((await screen.findByTestId("live-alerts")).textContent).toBe("09:30:01 IST · ENTRY order SELL 195 NIFTY2681825250CE in ZERODHA123 is REJECTED: Insufficient margin");
      act(() => FakeSocket.latest().drop());
      await waitFor(() => expect(screen.getAllByRole("status")[0].textContent).toMatch(/^Live updates paused, polling every 3 s\./));
    } finally {
      setConfig(saved);
      vi.unstubAllGlobals();
    }
  });
});
