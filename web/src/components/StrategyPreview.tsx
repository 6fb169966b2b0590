import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ErrorText } from "./Layout";
import { formatIstTime, formatNumber, formatRupees } from "../lib/format";

/** GET /options/strategies/{id}/preview (shared_utils.services.preview): the entry as the
 * engine would resolve it now. */
export interface EnginePreview {
  execute_at: string; trade_date: string; executable: boolean; problems: string[]; notes?: string[];
  legs: { leg_no: number; side: string; tradingsymbol: string; strike: string; option_type: string; lot_size: number; ltp: string; limit_price: string | null }[];
  accounts: {
    client_id: string; broker?: string; trading_mode?: string; problems?: string[];
    legs?: { leg_no: number; side: string; tradingsymbol: string; lots: number; quantity: number; limit_price: string | null; slices: { quantity: number }[] }[];
    orders_in_sending_order?: string[];
    risk?: { net_premium: string; net_premium_kind: string; max_profit: string; max_loss: string; breakevens: number[] };
    margin?: { source: string; required: string | null; description?: string };
  }[];
  total?: { net_premium: string; max_profit: string; max_loss: string; margin_total: string } | null;
}

const money = (v: string | undefined | null) => (v === "unlimited" ? "unlimited" : formatRupees(v));

/** The engine's own resolution of a saved strategy now: the contracts, each account's orders in
 * sending order (hedges first) with lots, units and freeze slices, premium, risk, margin, and the
 * problems that would refuse the entry (session, kill switch, market data, risk limits). */
export function StrategyPreview({ strategyId }: { strategyId: string }) {
  const preview = useQuery({
    queryKey: ["strategy", strategyId, "preview"], refetchInterval: 30_000, retry: false,
    queryFn: async () => unwrap(await api().GET("/options/strategies/{strategy_id}/preview", { params: { path: { strategy_id: strategyId } } })) as unknown as EnginePreview,
  });
  if (preview.error) return <ErrorText error={preview.error} />;
  const p = preview.data;
  if (!p) return <p className="loading">Resolving the entry as the engine would…</p>;
  return (
    <section aria-labelledby="engine-preview-heading">
      <h4 id="engine-preview-heading">If it entered now ({formatIstTime(p.execute_at)}, trade date {p.trade_date})</h4>
      {p.problems.length > 0
        ? <div className="problems" data-testid="preview-problems"><p><strong>The engine would refuse:</strong></p><ul>{p.problems.map((x) => <li key={x}>{x}</li>)}</ul></div>
        : <p className="ok">The engine would place these orders.</p>}
      {p.notes?.length ? <ul className="hint">{p.notes.map((n) => <li key={n}>{n}</li>)}</ul> : null}
      {p.accounts.map((a) => (
        <div key={a.client_id} data-testid="preview-account">
          <h5>{a.client_id}{a.broker ? ` · ${a.broker} ${a.trading_mode ?? ""}` : ""}</h5>
          {a.legs && a.legs.length > 0 && (
            <table>
              <caption className="sr-only">Orders of {a.client_id}</caption>
              <thead><tr><th scope="col">Leg</th><th scope="col">Side</th><th scope="col">Contract</th><th scope="col">Quantity</th><th scope="col">Limit price</th><th scope="col">Slices</th></tr></thead>
              <tbody>
                {a.legs.map((l) => {
                  const size = p.legs.find((x) => x.leg_no === l.leg_no)?.lot_size;
                  return (
                    <tr key={l.leg_no}>
                      <td>{l.leg_no}</td><td>{l.side}</td><td>{l.tradingsymbol}</td>
                      <td>{l.lots} {l.lots === 1 ? "lot" : "lots"} · {formatNumber(l.quantity)} units{size ? ` (lot ${size})` : ""}</td>
                      <td>{formatRupees(l.limit_price)}</td><td>{l.slices.length}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          {a.risk && <p className="hint">Net premium {formatRupees(a.risk.net_premium)} ({a.risk.net_premium_kind.toLowerCase()}) · max profit {money(a.risk.max_profit)} · max loss {money(a.risk.max_loss)}
            {a.margin ? ` · margin ${formatRupees(a.margin.required)} (${a.margin.source})` : ""}</p>}
          {a.problems?.length ? <ul className="error">{a.problems.map((x) => <li key={x}>{x}</li>)}</ul> : null}
        </div>
      ))}
      {p.total && <p><strong>All accounts:</strong> net premium {formatRupees(p.total.net_premium)} · max loss {money(p.total.max_loss)} · margin {formatRupees(p.total.margin_total)}</p>}
    </section>
  );
}
