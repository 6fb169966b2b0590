/**
 * One marketplace basket (issue 20): its strategies, legs and schedule (when visible to you), its
 * own paper performance, and the subscription form with YOUR broker accounts and a lot
 * multiplier per account (POST /options/baskets/{basket_id}/subscribe). 409 answers (capacity,
 * minimum capital) are shown with their reason.
 */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatRupees } from "../lib/format";
import { BasketCard, MarketplaceTabs } from "./MarketplacePage";

export function LegsTable({ strategy }: { strategy: Schemas["PublicStrategy"] }) {
  return (
    <table>
      <caption>{strategy.strategy_name}: {strategy.underlying} {strategy.product}, entry {strategy.entry_time} IST ({strategy.entry_days.map((d) => d.slice(0, 3)).join(", ") || "DTE"}), exit {strategy.exit_time} IST</caption>
      <thead><tr><th scope="col">Leg</th><th scope="col">Side</th><th scope="col">Type</th><th scope="col">Strike rule</th><th scope="col">Expiry</th><th scope="col">Lots</th><th scope="col">Stop</th></tr></thead>
      <tbody>
        {(strategy.legs ?? []).map((leg) => (
          <tr key={leg.leg_no}>
            <td>{leg.leg_no}</td><td>{leg.transaction_type}</td><td>{leg.leg_type}</td>
            <td>{leg.entry_by} {Object.entries(leg.strike_selection_config ?? {}).filter(([k]) => k !== "method").map(([k, v]) => `${k}=${String(v)}`).join(" ")}</td>
            <td>{leg.expiry_type} +{leg.expiry_offset}</td><td>{leg.lots}</td>
            <td>{leg.stop_loss ? `${leg.stop_loss}${leg.stop_loss_type === "PERCENTAGE" ? "%" : " pts"}` : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SubscribeForm({ basketId }: { basketId: string }) {
  const client = useQueryClient();
  const accounts = useQuery({
    queryKey: ["broker-accounts"],
    queryFn: async () => unwrap(await api().GET("/broker-accounts")).items as Schemas["BrokerAccountView"][],
  });
  const [multipliers, setMultipliers] = useState<Record<string, number>>({});
  const [capital, setCapital] = useState(0);
  const subscribe = useMutation({
    mutationFn: async () => unwrap(await api().POST("/options/baskets/{basket_id}/subscribe", {
      params: { path: { basket_id: basketId } },
      body: {
        allocations: Object.entries(multipliers).filter(([, m]) => m > 0).map(([client_id, lot_multiplier]) => ({ client_id, lot_multiplier })),
        capital: capital > 0 ? capital : undefined,
      },
    })),
    onSuccess: () => { void client.invalidateQueries({ queryKey: ["marketplace-basket", basketId] }); void client.invalidateQueries({ queryKey: ["subscriptions"] }); },
  });
  return (
    <form className="card" aria-labelledby="subscribe-heading" onSubmit={(e) => { e.preventDefault(); subscribe.mutate(); }}>
      <h2 id="subscribe-heading">Subscribe with your accounts</h2>
      <p>Each account trades every leg at its base lots × the multiplier (0 = not this account).</p>
      <div className="grid">
        {accounts.data?.map((a) => (
          <label key={a.client_id}>{a.client_id} ({a.broker}, {a.trading_mode}) multiplier
            <input type="number" min={0} max={1000} value={multipliers[a.client_id] ?? 0}
              onChange={(e) => setMultipliers({ ...multipliers, [a.client_id]: Number(e.target.value) })} />
          </label>
        ))}
        <label>Capital you commit (₹)<input type="number" min={0} value={capital} onChange={(e) => setCapital(Number(e.target.value))} /></label>
      </div>
      <button type="submit" disabled={subscribe.isPending}>Subscribe</button>
      {subscribe.isSuccess && <p role="status">Subscribed: <Link to={`/marketplace/subscriptions/${subscribe.data.subscription_id}`}>{subscribe.data.subscription_id}</Link></p>}
      <ErrorText error={subscribe.error ?? accounts.error} />
    </form>
  );
}

export default function MarketplaceBasketPage() {
  const { basketId = "" } = useParams();
  const detail = useQuery({
    queryKey: ["marketplace-basket", basketId],
    queryFn: async () => unwrap(await api().GET("/options/marketplace/baskets/{basket_id}", { params: { path: { basket_id: basketId } } })),
  });
  const d = detail.data;
  return (
    <>
      <h1>{d?.basket.basket_name ?? "Basket"}</h1>
      <MarketplaceTabs />
      <ErrorText error={detail.error} />
      {d && (
        <>
          <BasketCard card={d.basket} />
          <section className="card" aria-labelledby="perf-heading">
            <h2 id="perf-heading">Performance ({d.performance.source})</h2>
            <p>{d.performance.executions} executions over {d.performance.trade_days} trade days; realised {formatRupees(d.performance.realised_pnl)}, open {formatRupees(d.performance.unrealised_pnl)}{d.performance.win_rate != null ? `, ${d.performance.win_rate}% winning days` : ""}.</p>
          </section>
          {d.note && <p>{d.note}</p>}
          {d.strategies?.map((s) => <LegsTable key={s.strategy_id} strategy={s} />)}
          {!d.basket.subscribed && <SubscribeForm basketId={basketId} />}
        </>
      )}
    </>
  );
}
