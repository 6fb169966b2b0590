import { lazy, Suspense, useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime, formatRupees } from "../lib/format";
import { downloadCsv } from "../lib/http";
import { OrdersTable } from "./DashboardPage";
import { strategiesQuery } from "./StrategiesPage";
import type { PnlBar } from "../components/PnlChart";

const PnlChart = lazy(() => import("../components/PnlChart"));

type By = "day" | "strategy" | "account";
interface PnlLine { key: string; label: string; gross: string; charges: string; net: string; orders?: number }

/** The P&L view's rows for one grouping; charges are the total of each charge as billed. */
export function pnlLines(view: Schemas["PnlView"], by: By, names: Record<string, string> = {}): PnlLine[] {
  if (by === "day") return view.days.map((d) => ({ key: d.date, label: d.date, gross: d.gross, charges: d.charges.total, net: d.net, orders: d.executed_orders }));
  if (by === "account") return view.accounts.map((a) => ({ key: a.client_id, label: a.client_id, gross: a.gross, charges: a.charges.total, net: a.net, orders: a.executed_orders }));
  return view.strategies.map((s) => ({ key: s.strategy_id, label: names[s.strategy_id] ?? s.strategy_id, gross: s.gross, charges: s.charges, net: s.net }));
}

const signed = (v: string) => <span className={Number(v) < 0 ? "neg" : "pos"}>{formatRupees(v)}</span>;

function PnlSection({ from, to }: { from: string; to: string }) {
  const [by, setBy] = useState<By>("day");
  const query = { ...(from ? { from_date: from } : {}), ...(to ? { to_date: to } : {}) };
  const pnl = useQuery({ queryKey: ["pnl", from, to], queryFn: async () => unwrap(await api().GET("/options/pnl", { params: { query } })) });
  const perf = useQuery({ queryKey: ["performance", from, to], queryFn: async () => unwrap(await api().GET("/options/performance", { params: { query } })) });
  const strategies = useQuery(strategiesQuery());
  const names = Object.fromEntries((strategies.data ?? []).map((s) => [s.strategy_id, s.strategy_name]));
  const csv = useMutation({
    mutationFn: async (what: "month" | "day") => {
      const end = pnl.data?.to_date ?? to;
      return what === "month"
        ? downloadCsv(`/options/reports/monthly?month=${end.slice(0, 7)}`, `pnl-${end.slice(0, 7)}.csv`)
        : downloadCsv(`/options/reports/daily?date=${end}`, `pnl-${end}.csv`);
    },
  });
  const view = pnl.data;
  const lines = view ? pnlLines(view, by, names) : [];
  const bars: PnlBar[] = lines.map((l) => ({ label: l.label, gross: Number(l.gross), charges: -Number(l.charges), net: Number(l.net) }));
  return (
    <section aria-labelledby="pnl-heading" className="card">
      <h2 id="pnl-heading">P&amp;L{view ? ` ${view.from_date} to ${view.to_date}` : ""}</h2>
      <ErrorText error={pnl.error} />
      {view && (
        <>
          <dl className="facts" data-testid="pnl-total">
            <div><dt>Gross</dt><dd>{signed(view.total.gross)}</dd></div>
            <div><dt>Charges</dt><dd>{formatRupees(view.total.charges.total)}</dd></div>
            <div><dt>Net of charges</dt><dd>{signed(view.total.net)}</dd></div>
            <div><dt>Open positions</dt><dd>{view.open_positions} (MTM {formatRupees(view.open_mtm)})</dd></div>
            {perf.data && <div><dt>Win rate</dt><dd>{perf.data.win_rate === null || perf.data.win_rate === undefined ? "—" : `${Math.round(Number(perf.data.win_rate) * 100)}% of ${perf.data.days_traded} days`}</dd></div>}
            {perf.data && <div><dt>Max drawdown</dt><dd>{formatRupees(perf.data.max_drawdown)}</dd></div>}
          </dl>
          <div role="radiogroup" aria-label="Group P&L by" className="actions">
            {(["day", "strategy", "account"] as const).map((b) => (
              <label key={b} className="check"><input type="radio" name="pnl-by" checked={by === b} onChange={() => setBy(b)} /> per {b}</label>
            ))}
          </div>
          {bars.length > 0 && <Suspense fallback={<p className="loading">Loading chart…</p>}><PnlChart data={bars} caption={`Gross, charges and net in rupees per ${by}`} /></Suspense>}
          <table data-testid="pnl-table">
            <caption className="sr-only">P&amp;L per {by}</caption>
            <thead><tr><th scope="col">{by === "day" ? "Date" : by === "strategy" ? "Strategy" : "Account"}</th><th scope="col">Gross</th><th scope="col">Charges</th><th scope="col">Net</th>{by !== "strategy" && <th scope="col">Executed orders</th>}</tr></thead>
            <tbody>
              {lines.length === 0 && <tr><td colSpan={5}>No P&amp;L in this range.</td></tr>}
              {lines.map((l) => <tr key={l.key}><th scope="row">{l.label}</th><td>{signed(l.gross)}</td><td>{formatRupees(l.charges)}</td><td>{signed(l.net)}</td>{by !== "strategy" && <td>{l.orders}</td>}</tr>)}
            </tbody>
          </table>
          <p className="actions">
            <button type="button" className="secondary" disabled={csv.isPending} onClick={() => csv.mutate("month")}>Download {view.to_date.slice(0, 7)} CSV (per day and account)</button>
            <button type="button" className="secondary" disabled={csv.isPending} onClick={() => csv.mutate("day")}>Download {view.to_date} CSV (each charge)</button>
          </p>
          <ErrorText error={csv.error} />
        </>
      )}
    </section>
  );
}

export default function HistoryPage() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const query = { ...(from ? { from_date: from } : {}), ...(to ? { to_date: to } : {}) };
  const history = useQuery({ queryKey: ["history", from, to], queryFn: async () => unwrap(await api().GET("/options/executions/history", { params: { query } })).items });
  const detail = useQuery({ queryKey: ["execution", open], enabled: !!open,
    queryFn: async () => unwrap(await api().GET("/options/executions/{execution_id}", { params: { path: { execution_id: open! } } })) });
  const strategies = useQuery(strategiesQuery());
  const names = Object.fromEntries((strategies.data ?? []).map((s) => [s.strategy_id, s.strategy_name]));
  return (
    <>
      <h1>History and performance</h1>
      <div className="grid card">
        <label>From (date)<input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
        <label>To (date)<input type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
      </div>
      <PnlSection from={from} to={to} />
      <h2>Executions</h2>
      <ErrorText error={history.error} />
      <table>
        <thead><tr><th scope="col">Date</th><th scope="col">Target (IST)</th><th scope="col">Type</th><th scope="col">Strategy</th><th scope="col">Status</th><th scope="col">Lots</th><th scope="col">Orders</th></tr></thead>
        <tbody>
          {history.data?.length === 0 && <tr><td colSpan={7}>No executions in this range.</td></tr>}
          {history.data?.map((e) => (
            <tr key={e.execution_id}>
              <td>{e.trade_date}</td><td>{formatIstDateTime(e.execute_at)}</td><td>{e.execution_type}</td><td>{names[e.strategy_id] ?? e.strategy_id}</td>
              <td><span className={`status ${e.status}`}>{e.status}</span></td><td>{e.total_lots}</td>
              <td><button type="button" className="secondary" onClick={() => setOpen(e.execution_id)} aria-label={`Show orders of ${e.execution_id}`}>Orders</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && (
        <section className="card" aria-labelledby="orders-heading">
          <h2 id="orders-heading">Orders of {open}</h2>
          <ErrorText error={detail.error} />
          {detail.data && <OrdersTable orders={detail.data.orders} execution={detail.data.execution} />}
        </section>
      )}
    </>
  );
}
