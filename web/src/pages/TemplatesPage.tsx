/**
 * Strategy templates (issue 20): the library of common structures (config/templates), each shown
 * with its legs' selection rules; "Create" makes a PAUSED strategy in one of your baskets (POST
 * /options/templates/{template_id}/create), to allocate and activate on its page.
 */
import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { ErrorText } from "../components/Layout";
import { MarketplaceTabs } from "./MarketplacePage";
import { basketsQuery } from "./StrategiesPage";

function CreateFromTemplate({ templateId }: { templateId: string }) {
  const baskets = useQuery(basketsQuery());
  const [basketId, setBasketId] = useState("");
  const [lots, setLots] = useState(1);
  const create = useMutation({
    mutationFn: async () => unwrap(await api().POST("/options/templates/{template_id}/create", {
      params: { path: { template_id: templateId } },
      body: { basket_id: basketId || undefined, lots },
    })),
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }} aria-label={`Create from ${templateId}`}>
      <div className="grid">
        <label>Basket
          <select value={basketId} onChange={(e) => setBasketId(e.target.value)}>
            <option value="">No basket</option>
            {baskets.data?.map((b) => <option key={b.basket_id} value={b.basket_id}>{b.basket_name}</option>)}
          </select>
        </label>
        <label>Lots per leg<input type="number" min={1} max={100} value={lots} onChange={(e) => setLots(Number(e.target.value))} /></label>
      </div>
      <button type="submit" disabled={create.isPending}>Create strategy</button>
      {create.isSuccess && <p role="status">Created <Link to={`/strategies/${create.data.strategy.strategy_id}`}>{create.data.strategy.strategy_name}</Link> (PAUSED: allocate it, then activate).</p>}
      <ErrorText error={create.error} />
    </form>
  );
}

export default function TemplatesPage() {
  const templates = useQuery({ queryKey: ["templates"], queryFn: async () => unwrap(await api().GET("/options/templates")).items });
  const [open, setOpen] = useState<string | null>(null);
  const detail = useQuery({
    queryKey: ["template", open],
    enabled: open !== null,
    queryFn: async () => unwrap(await api().GET("/options/templates/{template_id}", { params: { path: { template_id: open ?? "" } } })),
  });
  return (
    <>
      <h1>Strategy templates</h1>
      <MarketplaceTabs />
      <ErrorText error={templates.error} />
      {templates.data?.map((t) => (
        <article className="card" key={t.template_id} aria-labelledby={`tpl-${t.template_id}`}>
          <h2 id={`tpl-${t.template_id}`}>{t.name}</h2>
          <p>{t.description}</p>
          <p>{t.underlying} {t.product} · {t.legs} legs · {t.category} · risk {t.risk_level}</p>
          <button type="button" className="secondary" onClick={() => setOpen(open === t.template_id ? null : t.template_id)}>
            {open === t.template_id ? "Hide legs" : "Show legs"}
          </button>
          {open === t.template_id && detail.data && (
            <ul>{detail.data.legs.map((leg) => {
              const l = leg as Record<string, unknown>;
              const rule = l.strike_selection_config as Record<string, unknown> | undefined;
              return <li key={String(l.leg_no)}>Leg {String(l.leg_no)}: {String(l.transaction_type)} {String(l.leg_type)} by {String(l.entry_by)} {rule ? Object.entries(rule).filter(([k]) => k !== "method").map(([k, v]) => `${k}=${String(v)}`).join(" ") : ""}, {String(l.expiry_type)} +{String(l.expiry_offset ?? 0)}</li>;
            })}</ul>
          )}
          <CreateFromTemplate templateId={t.template_id} />
        </article>
      ))}
    </>
  );
}
