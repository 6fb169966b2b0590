/**
 * The marketplace (issue 20): admin baskets to browse (category / risk filters), each card with
 * its capacity, and the tabs to your subscriptions and the strategy templates. API shapes from
 * docs/openapi.json (GET /options/marketplace, /options/marketplace/categories).
 */
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatRupees } from "../lib/format";

export function MarketplaceTabs() {
  return (
    <p className="actions" aria-label="Marketplace sections">
      <Link to="/marketplace">Browse</Link>{" · "}
      <Link to="/marketplace/subscriptions">My subscriptions</Link>{" · "}
      <Link to="/marketplace/templates">Templates</Link>
    </p>
  );
}

export function BasketCard({ card }: { card: Schemas["MarketplaceCard"] }) {
  const config = card.subscription_config;
  return (
    <article className="card" aria-labelledby={`basket-${card.basket_id}`}>
      <h2 id={`basket-${card.basket_id}`}><Link to={`/marketplace/${card.basket_id}`}>{card.basket_name}</Link>{card.featured ? " ★" : ""}</h2>
      <p>{card.description}</p>
      <dl className="grid">
        <div><dt>Category</dt><dd>{card.category}</dd></div>
        <div><dt>Risk</dt><dd>{card.risk_level}</dd></div>
        <div><dt>Strategies</dt><dd>{card.strategy_count}</dd></div>
        <div><dt>Subscribers</dt><dd>{card.subscriber_count}{card.seats_left != null ? ` (${card.seats_left} seats left)` : ""}</dd></div>
        <div><dt>Minimum capital</dt><dd>{config.min_capital ? formatRupees(config.min_capital) : "none"}</dd></div>
        <div><dt>Visibility</dt><dd>{card.visibility}</dd></div>
      </dl>
      {card.subscribed && <p><span className="status ACTIVE">Subscribed</span></p>}
    </article>
  );
}

export default function MarketplacePage() {
  const [category, setCategory] = useState("");
  const [risk, setRisk] = useState("");
  const categories = useQuery({
    queryKey: ["marketplace-categories"],
    queryFn: async () => unwrap(await api().GET("/options/marketplace/categories")).items,
  });
  const baskets = useQuery({
    queryKey: ["marketplace", category, risk],
    queryFn: async () => unwrap(await api().GET("/options/marketplace", {
      params: { query: { category: category || undefined, risk_level: risk || undefined } },
    })).items,
  });
  return (
    <>
      <h1>Marketplace</h1>
      <MarketplaceTabs />
      <div className="grid" role="search">
        <label>Category
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">All</option>
            {categories.data?.map((c) => <option key={c.category} value={c.category}>{c.category} ({c.baskets})</option>)}
          </select>
        </label>
        <label>Risk
          <select value={risk} onChange={(e) => setRisk(e.target.value)}>
            <option value="">All</option>
            {["LOW", "MEDIUM", "HIGH"].map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
      </div>
      <ErrorText error={baskets.error ?? categories.error} />
      {baskets.data?.length === 0 && <p>No baskets match.</p>}
      {baskets.data?.map((card) => <BasketCard key={card.basket_id} card={card} />)}
    </>
  );
}
