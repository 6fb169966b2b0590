import { describe, expect, it, vi, beforeEach } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { SignInPage } from "./SignInPage";
import { OrdersTable } from "./DashboardPage";
import BuilderPage from "./BuilderPage";
import { currentSession } from "../lib/auth";
import type { Schemas } from "../api/client";

function wrap(ui: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(<QueryClientProvider client={client}><MemoryRouter>{ui}</MemoryRouter></QueryClientProvider>);
}

function jwt(claims: object) {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => vi.unstubAllGlobals());

describe("SignInPage", () => {
  it("runs Cognito's USER_PASSWORD_AUTH InitiateAuth and keeps the ID token", async () => {
    const token = jwt({ email: "t@x.in", exp: Math.floor(Date.now() / 1000) + 3600 });
    const fetchMock = vi.fn(async () => json({ AuthenticationResult: { IdToken: token, AccessToken: "a" } }));
    vi.stubGlobal("fetch", fetchMock);
    wrap(<SignInPage />);
    await userEvent.type(screen.getByLabelText("E-mail"), "t@x.in");
    await userEvent.type(screen.getByLabelText("Password"), "Local-Passw0rd!");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await vi.waitFor(() => expect(currentSession()?.idToken).toBe(token));
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://idp.test/");
    expect((init.headers as Record<string, string>)["X-Amz-Target"]).toBe("AWSCognitoIdentityProviderService.InitiateAuth");
    expect(JSON.parse(String(init.body))).toEqual({ AuthFlow: "USER_PASSWORD_AUTH", ClientId: "client-1", AuthParameters: { USERNAME: "t@x.in", PASSWORD: "Local-Passw0rd!" } });
  });
  it("validates before calling Cognito and shows Cognito's refusal", async () => {
    const fetchMock = vi.fn(async () => json({ __type: "NotAuthorizedException", message: "Incorrect username or password." }, 400));
    vi.stubGlobal("fetch", fetchMock);
    wrap(<SignInPage />);
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Enter the e-mail you registered with")).toBeInTheDocument();
    expect(fetchMock).not.toHaveBeenCalled();
    await userEvent.type(screen.getByLabelText("E-mail"), "t@x.in");
    await userEvent.type(screen.getByLabelText("Password"), "wrong-password");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Incorrect username or password.");
    expect(currentSession()).toBeNull();
  });
});

describe("OrdersTable", () => {
  it("shows each order's lag from the target second, lots and units, and rupees", () => {
    const base = { user_id: "u", strategy_id: "s", execution_id: "e", broker: "paper", exchange: "NFO", order_type: "LIMIT", product: "NRML", tag: "t",
      execute_at: "2026-08-17T04:03:00Z" } as const;
    const orders = [
      { ...base, order_key: "2", client_id: "Z1", leg_no: 1, lots: 3, lot_size: 65, quantity: 195, transaction_type: "SELL", tradingsymbol: "NIFTY26AUG24500PE", status: "FILLED", average_price: "112.5", sent_at: "2026-08-17T04:03:00.061Z" },
      { ...base, order_key: "1", client_id: "Z1", leg_no: 2, lots: 3, lot_size: 65, quantity: 195, transaction_type: "BUY", tradingsymbol: "NIFTY26AUG24100PE", status: "FILLED", average_price: "1234567.5", sent_at: "2026-08-17T04:03:00.012Z" },
    ] as unknown as Schemas["OrderRecord"][];
    render(<OrdersTable orders={orders} />);
    const rows = screen.getAllByTestId("order-row");
    expect(within(rows[0]).getByText("BUY")).toBeInTheDocument(); // sorted by send time: the hedge first
    expect(within(rows[0]).getByText("+12 ms")).toBeInTheDocument();
    expect(within(rows[0]).getByText("09:33:00 IST")).toBeInTheDocument();
    expect(within(rows[0]).getByText("₹12,34,567.50")).toBeInTheDocument();
    expect(within(rows[1]).getByText("+61 ms")).toBeInTheDocument();
    expect(within(rows[1]).getByText("3 lots · 195 units")).toBeInTheDocument();
  });
  it("gives no lag to a stop loss placed on a fill (it has no target second)", () => {
    const sl = { order_key: "9", client_id: "Z1", purpose: "STOP_LOSS", lots: 1, lot_size: 65, transaction_type: "BUY", tradingsymbol: "X", status: "TRIGGER_PENDING",
      execute_at: "2026-08-17T04:03:00Z", sent_at: "2026-08-17T04:03:01.5Z" } as unknown as Schemas["OrderRecord"];
    render(<OrdersTable orders={[sl]} />);
    const row = screen.getByTestId("order-row");
    expect(within(row).getByText("STOP_LOSS")).toBeInTheDocument();
    expect(within(row).queryByText(/ms$/)).toBeNull();
  });
});

describe("BuilderPage", () => {
  it("walks the steps, refusing to move on with an invalid step", async () => {
    sessionStorage.setItem("ql.session", JSON.stringify({ idToken: jwt({}), accessToken: "", email: "t@x.in", expiresAt: 0 }));
    vi.stubGlobal("fetch", vi.fn(async (req: Request) => {
      const path = new URL(req.url).pathname;
      if (path === "/broker-accounts") return json({ items: [{ client_id: "Z1", broker: "paper" }] });
      if (path === "/options/baskets") return json({ items: [{ basket_id: "b1", basket_name: "Income" }] });
      return json({}, 404);
    }));
    wrap(<BuilderPage />);
    expect(screen.getByRole("heading", { name: "Basic info" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByText("Name the strategy")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Basic info" })).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Strategy name"), "IC");
    await screen.findByRole("option", { name: "Income" });
    await userEvent.selectOptions(screen.getByLabelText("Basket"), "b1");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByRole("heading", { name: "Schedule" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByRole("heading", { name: "Legs" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Use the iron condor template" }));
    expect(screen.getAllByRole("row")).toHaveLength(5);
    await userEvent.selectOptions(screen.getByLabelText("Leg 1 selection method"), "PREMIUM_RANGE");
    expect(screen.getByLabelText("Leg 1 Min ₹")).toBeInTheDocument();
    expect(screen.getByLabelText("Leg 1 Max ₹")).toBeInTheDocument();
  });
});

describe("ProfilePage", () => {
  it("shows the MFA state Cognito's GetUser reports", async () => {
    sessionStorage.setItem("ql.session", JSON.stringify({ idToken: jwt({}), accessToken: "acc-1", email: "t@x.in", expiresAt: 0 }));
    const fetchMock = vi.fn(async (input: Request | string, init?: RequestInit) => {
      if (typeof input === "string") {
        expect(JSON.parse(String(init?.body))).toEqual({ AccessToken: "acc-1" });
        return json({ Username: "t", UserMFASettingList: ["SOFTWARE_TOKEN_MFA"], PreferredMfaSetting: "SOFTWARE_TOKEN_MFA" });
      }
      return json({ email: "t@x.in", name: "Trader" });
    });
    vi.stubGlobal("fetch", fetchMock);
    const { default: ProfilePage } = await import("./ProfilePage");
    wrap(<ProfilePage />);
    expect(await screen.findByText("on: SOFTWARE_TOKEN_MFA (preferred SOFTWARE_TOKEN_MFA)")).toBeInTheDocument();
    expect(await screen.findByText("Trader")).toBeInTheDocument();
  });
});
