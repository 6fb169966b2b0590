/**
 * Your subscriptions (issue 20): status, accounts and multipliers, pause / resume / cancel, and
 * (on one subscription) the basket's definition, your lots per account and the admin's changes,
 * which apply from the next execution.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime } from "../lib/format";
import { MarketplaceTabs } from "./MarketplacePage";
import { LegsTable } from "./MarketplaceBasketPage";

function Actions({ s }: { s: Schemas["SubscriptionView"] }) {
  const client = useQueryClient();
  const path = { params: { path: { subscription_id: s.subscription_id } } };
  const act = useMutation({
    mutationFn: async (what: "pause" | "resume" | "cancel") => {
      if (what === "pause") return unwrap(await api().POST("/options/subscriptions/{subscription_id}/pause", path));
      if (what === "resume") return unwrap(await api().POST("/options/subscriptions/{subscription_id}/resume", path));
      if (!confirm("Cancel this subscription? Open positions still exit on time.")) return null;
      return unwrap(await api().POST("/options/subscriptions/{subscription_id}/cancel", path));
    },
    onSettled: () => { void client.invalidateQueries({ queryKey: ["subscriptions"] }); },
  });
  if (s.status === "CANCELLED") return null;
  return (
    <span className="actions">
      {s.status === "ACTIVE"
        ? <button type="button" className="secondary" onClick={() => act.mutate("pause")}>Pause</button>
        : <button type="button" onClick={() => act.mutate("resume")}>Resume</button>}
      <button type="button" className="danger" onClick={() => act.mutate("cancel")}>Cancel</button>
      <ErrorText error={act.error} />
    </span>
  );
}

function SubscriptionDetail({ id }: { id: string }) {
  const detail = useQuery({
    queryKey: ["subscription", id],
    queryFn: async () => unwrap(await api().GET("/options/subscriptions/{subscription_id}", { params: { path: { subscription_id: id } } })),
  });
  const d = detail.data;
  return (
    <>
      <ErrorText error={detail.error} />
      {d && (
        <>
          <h2>{d.subscription.basket_name} <span className={`status ${d.subscription.status}`}>{d.subscription.status}</span></h2>
          <table>
            <caption>Your lots per execution</caption>
            <thead><tr><th scope="col">Strategy</th><th scope="col">Account</th><th scope="col">Lots</th></tr></thead>
            <tbody>
              {Object.entries(d.lots_per_execution ?? {}).flatMap(([strategy, per]) => Object.entries(per).map(([account, lots]) => (
                <tr key={`${strategy}-${account}`}><td>{d.strategies.find((s) => s.strategy_id === strategy)?.strategy_name ?? strategy}</td><td>{account}</td><td>{lots}</td></tr>
              )))}
            </tbody>
          </table>
          {d.strategies.map((s) => <LegsTable key={s.strategy_id} strategy={s} />)}
          <h2>Changes by the basket's admin</h2>
          {d.notices.length === 0 ? <p>None since you subscribed.</p> : (
            <ul>{d.notices.map((n) => <li key={n.at}>{formatIstDateTime(n.at)}: {n.what} (applies from {n.applies_from})</li>)}</ul>
          )}
        </>
      )}
    </>
  );
}

export default function MarketplaceSubscriptionsPage() {
  const { subscriptionId } = useParams();
  const subs = useQuery({
    queryKey: ["subscriptions"],
    queryFn: async () => unwrap(await api().GET("/options/subscriptions")).items,
  });
  return (
    <>
      <h1>My subscriptions</h1>
      <MarketplaceTabs />
      <ErrorText error={subs.error} />
      <table>
        <thead><tr><th scope="col">Basket</th><th scope="col">Since</th><th scope="col">Accounts (multiplier)</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {subs.data?.length === 0 && <tr><td colSpan={5}>No subscriptions yet: <Link to="/marketplace">browse the marketplace</Link>.</td></tr>}
          {subs.data?.map((s) => (
            <tr key={s.subscription_id}>
              <td><Link to={`/marketplace/subscriptions/${s.subscription_id}`}>{s.basket_name || s.basket_id}</Link></td>
              <td>{formatIstDateTime(s.subscription_date)}</td>
              <td>{s.allocations.map((a) => `${a.client_id} ×${a.lot_multiplier ?? 1}`).join(", ")}</td>
              <td><span className={`status ${s.status}`}>{s.status}</span></td>
              <td><Actions s={s} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {subscriptionId && <SubscriptionDetail id={subscriptionId} />}
    </>
  );
}
