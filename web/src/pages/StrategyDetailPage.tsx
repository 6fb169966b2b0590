import { useQuery } from "@tanstack/react-query";
import { useParams } from "react-router";
import { api, unwrap } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatLots } from "../lib/format";
import { StrategyActions } from "./StrategiesPage";

/** The review of a saved strategy: the server's executability problems and warnings, the legs,
 * and each account's lots and resulting quantities (lot size on the trade date). */
export function StrategyReview({ strategyId }: { strategyId: string }) {
  const path = { params: { path: { strategy_id: strategyId } } };
  const detail = useQuery({ queryKey: ["strategy", strategyId], queryFn: async () => unwrap(await api().GET("/options/strategies/{strategy_id}", path)) });
  const summary = useQuery({ queryKey: ["strategy", strategyId, "summary"], queryFn: async () => unwrap(await api().GET("/options/strategies/{strategy_id}/allocations/summary", path)) });
  if (detail.error) return <ErrorText error={detail.error} />;
  if (!detail.data) return <p className="loading">Loading…</p>;
  const { strategy, legs, executable, executability_problems = [], warnings = [] } = detail.data;
  return (
    <section aria-labelledby="review-heading">
      <h3 id="review-heading">{strategy.strategy_name} <span className={`status ${strategy.status}`}>{strategy.status}</span></h3>
      <p>{strategy.underlying} · {strategy.product} · entry {strategy.entry_time} IST on {strategy.entry_days.join(", ")} · exit {strategy.exit_time} IST on {strategy.exit_days.join(", ")}</p>
      {executable
        ? <p className="ok" role="status">Executable: nothing keeps this strategy from running.</p>
        : <div role="status" className="problems"><p><strong>Not executable yet:</strong></p><ul>{executability_problems.map((p) => <li key={p}>{p}</li>)}</ul></div>}
      {warnings.length > 0 && <ul className="warnings">{warnings.map((w) => <li key={w}>{w}</li>)}</ul>}
      <h4>Legs</h4>
      <table>
        <thead><tr><th scope="col">Leg</th><th scope="col">Side</th><th scope="col">Type</th><th scope="col">Lots</th><th scope="col">Expiry</th><th scope="col">Selection</th><th scope="col">Stop</th></tr></thead>
        <tbody>{(legs as Array<Record<string, unknown>>).map((l) => {
          const cfg = (l.strike_selection_config ?? {}) as Record<string, unknown>;
          const values = Object.entries(cfg).filter(([k, v]) => k !== "method" && v !== null && v !== undefined).map(([k, v]) => `${k} ${v}`).join(", ");
          return <tr key={String(l.leg_no)}><td>{String(l.leg_no)}</td><td>{String(l.transaction_type)}</td><td>{String(l.leg_type)}</td><td>{String(l.lots)}</td><td>{String(l.expiry_type)} +{String(l.expiry_offset ?? 0)}</td><td>{String(l.entry_by)} {values}</td><td>{l.stop_loss == null ? "—" : String(l.stop_loss)}</td></tr>;
        })}</tbody>
      </table>
      <h4>Allocation and quantities{summary.data ? ` (trade date ${summary.data.trade_date})` : ""}</h4>
      <ErrorText error={summary.error} />
      {summary.data && (
        <table>
          <thead><tr><th scope="col">Account</th><th scope="col">Type</th>{summary.data.legs.map((l) => <th scope="col" key={l.leg_no}>Leg {l.leg_no}</th>)}<th scope="col">Total</th></tr></thead>
          <tbody>
            {summary.data.accounts.map((a) => (
              <tr key={a.client_id}>
                <td>{a.client_id}</td><td>{a.allocation_type}</td>
                {summary.data!.legs.map((leg) => {
                  const mine = (a.legs as Array<{ leg_no: number; lots: number; quantity: number | null }>).find((x) => x.leg_no === leg.leg_no);
                  return <td key={leg.leg_no}>{mine ? formatLots(mine.lots, leg.lot_size) : "—"}</td>;
                })}
                <td>{a.total_lots} lots · {a.total_quantity} units</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {summary.data && summary.data.legs[0] && <p className="hint">Lot size {summary.data.legs[0].lot_size ?? "unknown"} ({summary.data.legs[0].lot_size_source}).</p>}
      <StrategyActions strategy={strategy} />
    </section>
  );
}

export default function StrategyDetailPage() {
  const { strategyId = "" } = useParams();
  return (<><h1>Strategy</h1><div className="card"><StrategyReview strategyId={strategyId} /></div></>);
}
