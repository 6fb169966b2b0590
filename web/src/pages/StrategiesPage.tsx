import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatRupees } from "../lib/format";

export function basketsQuery() {
  return { queryKey: ["baskets"], queryFn: async () => unwrap(await api().GET("/options/baskets")).items as Schemas["Basket"][] };
}
export function strategiesQuery() {
  return { queryKey: ["strategies"], queryFn: async () => unwrap(await api().GET("/options/strategies")).items as Schemas["Strategy"][] };
}

const basketSchema = z.object({
  basket_name: z.string().trim().min(1, "Name the basket").max(100),
  initial_capital: z.number().positive("Capital in rupees"),
  deployable_percentage: z.number().min(1).max(100),
});

function CreateBasket() {
  const client = useQueryClient();
  const { register, handleSubmit, reset, formState } = useForm({
    resolver: zodResolver(basketSchema),
    defaultValues: { basket_name: "", initial_capital: 500000, deployable_percentage: 80 },
  });
  const create = useMutation({
    mutationFn: async (v: z.output<typeof basketSchema>) => unwrap(await api().POST("/options/baskets", { body: { ...v, description: "" } })),
    onSuccess: () => { reset(); void client.invalidateQueries({ queryKey: ["baskets"] }); },
  });
  return (
    <form className="card" aria-labelledby="basket-heading" onSubmit={handleSubmit((v) => create.mutate(v as z.output<typeof basketSchema>))} noValidate>
      <h2 id="basket-heading">New basket</h2>
      <div className="grid">
        <div className="field"><label>Basket name<input {...register("basket_name")} /></label>{formState.errors.basket_name && <span className="error">{formState.errors.basket_name.message}</span>}</div>
        <label>Initial capital (₹)<input inputMode="decimal" {...register("initial_capital", { valueAsNumber: true })} /></label>
        <label>Deployable %<input inputMode="decimal" {...register("deployable_percentage", { valueAsNumber: true })} /></label>
      </div>
      <button type="submit" disabled={create.isPending}>Create basket</button>
      <ErrorText error={create.error} />
    </form>
  );
}

export function StrategyActions({ strategy }: { strategy: Schemas["Strategy"] }) {
  const client = useQueryClient();
  const id = { params: { path: { strategy_id: strategy.strategy_id } } };
  const act = useMutation({
    mutationFn: async (what: "activate" | "pause" | "delete") => {
      if (what === "activate") return unwrap(await api().POST("/options/strategies/{strategy_id}/activate", id));
      if (what === "pause") return unwrap(await api().POST("/options/strategies/{strategy_id}/pause", id));
      if (!confirm(`Delete ${strategy.strategy_name}?`)) return null;
      return unwrap(await api().DELETE("/options/strategies/{strategy_id}", id));
    },
    onSettled: () => { void client.invalidateQueries({ queryKey: ["strategies"] }); void client.invalidateQueries({ queryKey: ["strategy", strategy.strategy_id] }); },
  });
  return (
    <span className="actions">
      {strategy.status === "ACTIVE"
        ? <button type="button" className="secondary" onClick={() => act.mutate("pause")}>Pause</button>
        : <button type="button" onClick={() => act.mutate("activate")}>Activate</button>}
      <Link className="button secondary" to={`/strategies/${strategy.strategy_id}/edit`} aria-label={`Edit ${strategy.strategy_name}`}>Edit</Link>
      <button type="button" className="danger" onClick={() => act.mutate("delete")}>Delete</button>
      <ErrorText error={act.error} />
    </span>
  );
}

export default function StrategiesPage() {
  const baskets = useQuery(basketsQuery());
  const strategies = useQuery(strategiesQuery());
  return (
    <>
      <h1>Baskets & strategies</h1>
      <p><Link className="button" to="/strategies/new">Build a strategy</Link></p>
      <h2>Strategies</h2>
      <ErrorText error={strategies.error} />
      <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Underlying</th><th scope="col">Entry</th><th scope="col">Exit</th><th scope="col">Days</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {strategies.data?.length === 0 && <tr><td colSpan={7}>No strategies yet.</td></tr>}
          {strategies.data?.map((s) => (
            <tr key={s.strategy_id}>
              <td><Link to={`/strategies/${s.strategy_id}`}>{s.strategy_name}</Link></td>
              <td>{s.underlying}</td><td>{s.entry_time} IST</td><td>{s.exit_time} IST</td>
              <td>{s.entry_days.map((d) => d.slice(0, 3)).join(", ")}</td>
              <td><span className={`status ${s.status}`}>{s.status}</span></td>
              <td><StrategyActions strategy={s} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Baskets</h2>
      <ErrorText error={baskets.error} />
      <table>
        <thead><tr><th scope="col">Basket</th><th scope="col">Capital</th><th scope="col">Deployable</th><th scope="col">Status</th></tr></thead>
        <tbody>
          {baskets.data?.length === 0 && <tr><td colSpan={4}>No baskets yet.</td></tr>}
          {baskets.data?.map((b) => (
            <tr key={b.basket_id}><td>{b.basket_name}</td><td>{formatRupees(b.initial_capital)}</td><td>{b.deployable_percentage}%</td><td>{b.status}</td></tr>
          ))}
        </tbody>
      </table>
      <CreateBasket />
    </>
  );
}
