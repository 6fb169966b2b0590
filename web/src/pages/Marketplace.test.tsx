import { describe, expect, it, vi, beforeEach } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import MarketplaceBasketPage from "./MarketplaceBasketPage";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const card = {
  basket_id: "bkt_1", basket_name: "Weekly condor", creator_name: "", visibility: "PUBLIC", category: "HEDGED",
  risk_level: "MEDIUM", description: "NIFTY", tags: [], featured: false, subscriber_count: 3, seats_left: 0,
  strategy_count: 1, subscribed: false, subscription_config: { type: "FREE", min_capital: "200000", max_subscribers: 3 },
};
const detail = {
  basket: card, definition_visible: true, note: null,
  performance: { source: "paper executions of the basket's strategies", executions: 4, completed: 4, trade_days: 4,
                 realised_pnl: "1250.50", unrealised_pnl: "0", win_rate: "75.00", daily: [] },
  strategies: [{ strategy_id: "stg_1", strategy_name: "Condor", underlying: "NIFTY", product: "NRML", entry_time: "09:30",
                 exit_time: "15:20", entry_days: ["MONDAY"], exit_days: ["FRIDAY"], status: "ACTIVE",
                 legs: [{ leg_no: 1, lots: 2, transaction_type: "SELL", leg_type: "PUT", underlying: "NIFTY", entry_by: "DELTA",
                          strike_selection_config: { method: "DELTA", delta_value: "0.2" }, expiry_type: "WEEKLY",
                          expiry_offset: 0, stop_loss: "50", stop_loss_type: "PERCENTAGE", order_type: "LIMIT", enabled: true }] }],
};

beforeEach(() => vi.unstubAllGlobals());

describe("MarketplaceBasketPage", () => {
  it("shows the definition and the paper track, subscribes with your accounts and shows a 409's reason", async () => {
    const sent: { url: string; body: unknown }[] = [];
    vi.stubGlobal("fetch", vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      if (url.pathname.endsWith("/options/marketplace/baskets/bkt_1")) return json(detail);
      if (url.pathname.endsWith("/broker-accounts")) return json({ items: [
        { client_id: "Z1", broker: "zerodha", trading_mode: "PAPER" }, { client_id: "A1", broker: "angel", trading_mode: "PAPER" }] });
      if (url.pathname.endsWith("/options/baskets/bkt_1/subscribe")) {
        sent.push({ url: url.pathname, body: await request.json() });
        return json({ statusCode: 409, message: "basket bkt_1 is full: 3 of 3 subscribers" }, 409);
      }
      return json({}, 404);
    }));
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(<QueryClientProvider client={client}><MemoryRouter initialEntries={["/marketplace/bkt_1"]}>
      <Routes><Route path="/marketplace/:basketId" element={<MarketplaceBasketPage />} /></Routes>
    </MemoryRouter></QueryClientProvider>);
    expect(await screen.findByText(/75.00% winning days/)).toBeInTheDocument();
    expect(screen.getByText(/delta_value=0.2/)).toBeInTheDocument();
    const z1 = await screen.findByLabelText(/Z1 \(zerodha, PAPER\) multiplier/);
    await userEvent.clear(z1);
    await userEvent.type(z1, "2");
    await userEvent.clear(screen.getByLabelText(/Capital you commit/));
    await userEvent.type(screen.getByLabelText(/Capital you commit/), "300000");
    await userEvent.click(screen.getByRole("button", { name: "Subscribe" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("3 of 3 subscribers");
    expect(sent[0].body).toEqual({ allocations: [{ client_id: "Z1", lot_multiplier: 2 }], capital: 300000 });
  });
});
