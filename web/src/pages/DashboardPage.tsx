import { lazy, Suspense } from "react";
import { useQueries, useQuery } from "@tanstack/react-query";
import { liveStatusText, useLiveUpdates, type LiveOrder } from "../lib/live";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatIstTime, formatLag, formatLots, formatRupees, lagMs } from "../lib/format";
import { ClosePosition, KillSwitchPanel, OrderActions } from "../components/Actions";

const LagChart = lazy(() => import("../components/LagChart"));
/** Polling interval whenever the live feed (lib/live.ts) is not connected. */
export const POLL_MS = 3000;

type Order = Schemas["OrderRecord"];

/** An entry or exit order's send lag from its execution's target second (ms); null for the stop
 * losses and targets placed later on fills and for a trader's manual close (flag MANUAL_CLOSE,
 * issue 18), which have no target second of their own. */
export function orderLag(order: Order, execution?: Schemas["Execution"]): number | null {
  if (order.purpose === "STOP_LOSS" || order.purpose === "TARGET") return null;
  if (order.flags?.includes("MANUAL_CLOSE")) return null;
  return lagMs(order.execute_at ?? execution?.execute_at, order.sent_at);
}

export function OrdersTable({ orders, execution, actions = false }: { orders: Order[]; execution?: Schemas["Execution"]; actions?: boolean }) {
  const sorted = [...orders].sort((a, b) => (a.sent_at ?? a.created_at ?? "").localeCompare(b.sent_at ?? b.created_at ?? ""));
  return (
    <table className="orders">
      <thead><tr><th scope="col">Sent (IST)</th><th scope="col">Lag from target</th><th scope="col">Purpose</th><th scope="col">Account</th><th scope="col">Side</th><th scope="col">Symbol</th><th scope="col">Quantity</th><th scope="col">Price</th><th scope="col">Status</th>{actions && <th scope="col">Actions</th>}</tr></thead>
      <tbody>
        {sorted.length === 0 && <tr><td colSpan={actions ? 10 : 9}>No orders yet.</td></tr>}
        {sorted.map((o) => (
          <tr key={o.order_key} data-testid="order-row">
            <td>{formatIstTime(o.sent_at)}</td>
            <td>{formatLag(orderLag(o, execution))}</td>
            <td>{o.purpose ?? "ENTRY"}{o.flags?.includes("MANUAL_CLOSE") ? " (manual close)" : ""}</td><td>{o.client_id}</td><td>{o.transaction_type}</td><td>{o.tradingsymbol}</td>
            <td>{formatLots(o.lots, o.lot_size)}</td>
            <td>{formatRupees(o.average_price ?? o.price)}</td>
            <td><span className={`status ${o.status}`}>{o.status}</span>{o.broker_message && o.status !== "FILLED" ? <small> {o.broker_message}</small> : null}</td>
            {actions && <td><OrderActions order={o} /></td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** "short 3 lots · 195 units", "long 1 lot · 65 units", "0 units"; units only when the lot size is unknown. */
export function positionQuantity(quantity: number, lotSize?: number): string {
  if (quantity === 0) return "0 units";
  const side = quantity < 0 ? "short" : "long";
  const units = Math.abs(quantity);
  if (!lotSize || units % lotSize !== 0) return `${side} ${units.toLocaleString("en-IN")} units`;
  return `${side} ${formatLots(units / lotSize, lotSize)}`;
}

/** MTM of an open position from the live read when the list has no LTP for it (rupees). */
function markOf(p: Schemas["PositionView"], marks: Map<string, Schemas["LivePosition"]>): string {
  const live = p.position_id ? marks.get(p.position_id) : undefined;
  return p.ltp == null && live?.ltp != null && p.quantity !== 0 ? live.mtm : p.mtm;
}

/** "SL BUY 195 · trigger ₹78.00 · limit ₹80.00 · TRIGGER_PENDING (broker)"; "—" without a stop. */
export function StopCell({ stop }: { stop?: Schemas["StopAtBroker"] | null }) {
  if (!stop) return <span className="hint">—</span>;
  return (
    <span>{stop.order_type} {stop.transaction_type} {stop.quantity} · trigger {formatRupees(stop.trigger_price)}{stop.price ? ` · limit ${formatRupees(stop.price)}` : ""} · {stop.status}
      <small> ({stop.source === "broker" ? "broker's order book" : "our records"})</small></span>
  );
}

export default function DashboardPage() {
  const feed = useLiveUpdates({ pollMs: POLL_MS });
  const schedule = useQuery({ queryKey: ["schedule"], queryFn: async () => unwrap(await api().GET("/options/executions/schedule")), refetchInterval: POLL_MS * 5 });
  const today = schedule.data?.date;
  const executions = useQuery({
    queryKey: ["executions", today], enabled: !!today, refetchInterval: feed.refetchInterval,
    queryFn: async () => unwrap(await api().GET("/options/executions/history", { params: { query: { from_date: today, to_date: today } } })).items,
  });
  const details = useQueries({
    queries: (executions.data ?? []).map((e) => ({
      queryKey: ["execution", e.execution_id], refetchInterval: feed.refetchInterval,
      queryFn: async () => unwrap(await api().GET("/options/executions/{execution_id}", { params: { path: { execution_id: e.execution_id } } })),
    })),
  });
  const positions = useQuery({ queryKey: ["positions"], queryFn: async () => unwrap(await api().GET("/options/positions")), refetchInterval: feed.refetchInterval });
  // the stop as the broker holds it (reads each account's order book: polled less often)
  const live = useQuery({ queryKey: ["positions", "live"], queryFn: async () => unwrap(await api().GET("/options/positions/live")), refetchInterval: POLL_MS * 4 });
  const stops = new Map((live.data?.items ?? []).map((p) => [p.position_id, p.stop]));
  // LTP and MTM from the live read where it has them (the positions list has no market price locally)
  const marks = new Map((live.data?.items ?? []).map((p) => [p.position_id, p]));
  // lot sizes from today's orders of each contract (the positions list has units only)
  const lotSizes = new Map(details.flatMap((d) => (d.data?.orders ?? []).map((o) => [o.tradingsymbol, o.lot_size] as const)));
  const lags = details.flatMap((d) => (d.data?.orders ?? []).map((o) => ({ label: `${o.client_id} ${o.tradingsymbol}`, lag: orderLag(o, d.data!.execution) }))).filter((x) => x.lag !== null) as { label: string; lag: number }[];
  return (
    <>
      <h1>Today{today ? ` · ${today}` : ""}</h1>
      <p className="hint" role="status" data-live-state={feed.state}>{liveStatusText(feed.state, POLL_MS)} Last update {formatIstTime(new Date(Math.max(executions.dataUpdatedAt, positions.dataUpdatedAt) || Date.now()).toISOString())}.</p>
      {feed.alerts.length > 0 && (
        <section aria-labelledby="alerts-heading">
          <h2 id="alerts-heading">Alerts</h2>
          <ul className="alerts" data-testid="live-alerts">
            {feed.alerts.map((a, i) => <li key={`${a.timestamp}-${i}`} className={`status ${a.severity}`}>{formatIstTime(a.timestamp)} · {a.message}</li>)}
          </ul>
        </section>
      )}
      {feed.orders.length > 0 && (
        <section aria-labelledby="live-heading">
          <h2 id="live-heading">Orders arriving live</h2>
          <LiveOrdersTable orders={feed.orders} />
        </section>
      )}
      <KillSwitchPanel />
      <section aria-labelledby="due-heading">
        <h2 id="due-heading">Due today</h2>
        <ErrorText error={schedule.error} />
        {schedule.data && !schedule.data.trading_day && <p>Not a trading day.</p>}
        <table>
          <thead><tr><th scope="col">Time (IST)</th><th scope="col">Strategy</th><th scope="col">Type</th><th scope="col">Due</th><th scope="col">Reasons</th></tr></thead>
          <tbody>
            {schedule.data?.items.length === 0 && <tr><td colSpan={5}>Nothing scheduled.</td></tr>}
            {schedule.data?.items.map((r) => (
              <tr key={`${r.strategy_id}-${r.execution_type}`}><td>{r.time_ist}</td><td>{r.strategy_name}</td><td>{r.execution_type}</td><td>{r.due ? "yes" : "no"}</td><td>{r.reasons.join("; ")}</td></tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="exec-heading">
        <h2 id="exec-heading">Executions and orders</h2>
        <ErrorText error={executions.error} />
        {executions.data?.length === 0 && <p>No executions yet today.</p>}
        {details.map((d, i) => {
          const e = d.data?.execution ?? executions.data?.[i];
          if (!e) return null;
          return (
            <article key={e.execution_id} className="card" data-testid="execution">
              <h3>{e.execution_type} at {formatIstTime(e.execute_at)} · <span className={`status ${e.status}`}>{e.status}</span></h3>
              <p className="hint">{e.execution_id}{e.reasons?.length ? ` · ${e.reasons.join("; ")}` : ""}</p>
              <OrdersTable orders={d.data?.orders ?? []} execution={e} actions />
            </article>
          );
        })}
        {lags.length > 0 && <Suspense fallback={null}><LagChart data={lags} /></Suspense>}
      </section>
      <section aria-labelledby="pos-heading">
        <h2 id="pos-heading">Positions</h2>
        <ErrorText error={positions.error} />
        <table>
          <thead><tr><th scope="col">Account</th><th scope="col">Symbol</th><th scope="col">Quantity</th><th scope="col">Average</th><th scope="col">LTP</th><th scope="col">MTM</th><th scope="col">Realised</th><th scope="col">Stop at the broker</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {positions.data?.items.length === 0 && <tr><td colSpan={10}>No positions.</td></tr>}
            {positions.data?.items.map((p) => (
              <tr key={`${p.client_id}-${p.tradingsymbol}-${p.strategy_id}`} data-testid="position-row">
                <td>{p.client_id}</td><td>{p.tradingsymbol}</td><td>{positionQuantity(p.quantity, lotSizes.get(p.tradingsymbol))}</td><td>{formatRupees(p.average_price)}</td><td>{formatRupees(p.ltp ?? (p.position_id ? marks.get(p.position_id)?.ltp : null))}</td>
                <td className={Number(markOf(p, marks)) < 0 ? "neg" : "pos"}>{formatRupees(markOf(p, marks))}</td><td>{formatRupees(p.realised_pnl)}</td>
                <td><StopCell stop={p.position_id ? stops.get(p.position_id) : undefined} /></td><td>{p.status}</td>
                <td><ClosePosition position={p} /></td>
              </tr>
            ))}
          </tbody>
          {positions.data && <tfoot><tr><th scope="row" colSpan={5}>Total MTM</th><td>{formatRupees(positions.data.items.reduce((sum, p) => sum + Number(markOf(p, marks)), 0))}</td><td colSpan={4}></td></tr></tfoot>}
        </table>
      </section>
    </>
  );
}

/** Orders as the live feed reports them, newest first, with their lag from the target second. */
export function LiveOrdersTable({ orders }: { orders: LiveOrder[] }) {
  return (
    <table className="orders">
      <thead><tr><th scope="col">Sent (IST)</th><th scope="col">Lag from target</th><th scope="col">Purpose</th><th scope="col">Account</th><th scope="col">Side</th><th scope="col">Symbol</th><th scope="col">Quantity</th><th scope="col">Status</th></tr></thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.order_key} data-testid="live-order-row">
            <td>{formatIstTime(o.sent_at ?? o.timestamp)}</td><td>{formatLag(o.lag_ms)}</td><td>{o.purpose ?? "ENTRY"}</td>
            <td>{o.client_id}</td><td>{o.transaction_type}</td><td>{o.tradingsymbol}</td><td>{o.quantity} units</td>
            <td><span className={`status ${o.status}`}>{o.status}</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
