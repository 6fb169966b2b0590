import { lazy, Suspense, useEffect, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ErrorText } from "./Layout";
import { formatIstTime, formatLots, formatNumber, formatRupees } from "../lib/format";
import { toCalculatorLegs, type Draft } from "../lib/strategyDraft";

const PayoffChart = lazy(() => import("./PayoffChart"));

/** One leg of the payoff calculator's answer (shared_utils.services.calculators.analyse). */
export interface PricedLegView {
  leg: number; tradingsymbol: string; expiry: string; strike: string; option_type: "CE" | "PE"; side: "BUY" | "SELL";
  lots: number; lot_size: number; quantity: number; premium: string; premium_source: string; premium_value: string;
}
export interface PayoffAnswer {
  legs: PricedLegView[]; net_premium: string; net_premium_kind: "CREDIT" | "DEBIT"; underlying_level: string;
  payoff?: { levels: number[]; at_expiry: number[]; today: number[] };
  breakevens: number[]; max_profit: string; max_loss: string; as_of: string;
  quote?: { source?: string; age_ms?: number; stale?: boolean } & Record<string, unknown>;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** What the legs would pick now: the calculator resolves each selection rule against the live
 * chain (POST /options/calculator/payoff), debounced while the trader types, refreshed every 15 s. */
export function usePayoffPreview(draft: Pick<Draft, "underlying" | "legs">) {
  const body = toCalculatorLegs(draft);
  const key = useDebounced(body ? JSON.stringify(body) : null, 400);
  return useQuery({
    queryKey: ["payoff", key], enabled: key !== null, placeholderData: keepPreviousData, refetchInterval: 15_000, retry: false,
    queryFn: async () => unwrap(await api().POST("/options/calculator/payoff", { body: JSON.parse(key!) })) as unknown as PayoffAnswer,
  });
}

export function LegPreview({ draft }: { draft: Pick<Draft, "underlying" | "legs"> }) {
  const preview = usePayoffPreview(draft);
  const complete = toCalculatorLegs(draft) !== null;
  const data = preview.data;
  return (
    <section aria-labelledby="preview-heading" className="card preview" aria-busy={preview.isFetching}>
      <h3 id="preview-heading">What these legs would pick now</h3>
      {!complete && <p className="hint">Give every leg its selection value to see the contracts it would pick.</p>}
      <ErrorText error={preview.error} />
      {data && (
        <>
          <p className="hint" role="status">
            {draft.underlying} at {formatNumber(data.underlying_level)} · priced {formatIstTime(data.as_of)}
            {data.quote?.source ? ` · ${String(data.quote.source)}` : ""}{data.quote?.stale ? " (stale)" : ""}
          </p>
          <table>
            <caption className="sr-only">Contracts each leg would pick now</caption>
            <thead><tr><th scope="col">Leg</th><th scope="col">Contract</th><th scope="col">Strike</th><th scope="col">Expiry</th><th scope="col">Premium</th><th scope="col">Quantity</th><th scope="col">Premium value</th></tr></thead>
            <tbody>
              {data.legs.map((l) => (
                <tr key={l.leg} data-testid="preview-leg">
                  <td>{l.leg + 1} {l.side}</td><td>{l.tradingsymbol}</td><td>{formatNumber(l.strike)} {l.option_type}</td><td>{l.expiry}</td>
                  <td>{formatRupees(l.premium)}</td><td>{formatLots(l.lots, l.lot_size)}</td>
                  <td className={Number(l.premium_value) < 0 ? "neg" : "pos"}>{formatRupees(l.premium_value)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr><th scope="row" colSpan={6}>Net premium ({data.net_premium_kind === "CREDIT" ? "received" : "paid"})</th><td>{formatRupees(data.net_premium)}</td></tr>
            </tfoot>
          </table>
          <dl className="facts">
            <div><dt>Max profit</dt><dd>{data.max_profit === "unlimited" ? "unlimited" : formatRupees(data.max_profit)}</dd></div>
            <div><dt>Max loss</dt><dd>{data.max_loss === "unlimited" ? "unlimited" : formatRupees(data.max_loss)}</dd></div>
            <div><dt>Breakevens</dt><dd>{data.breakevens.length ? data.breakevens.map((b) => formatNumber(b)).join(" · ") : "none"}</dd></div>
          </dl>
          {data.payoff && (
            <Suspense fallback={<p className="loading">Loading chart…</p>}>
              <PayoffChart level={Number(data.underlying_level)} breakevens={data.breakevens}
                data={data.payoff.levels.map((level, i) => ({ level, atExpiry: data.payoff!.at_expiry[i], today: data.payoff!.today[i] }))} />
            </Suspense>
          )}
        </>
      )}
    </section>
  );
}
