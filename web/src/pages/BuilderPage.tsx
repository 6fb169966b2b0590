import { useEffect, useState } from "react";
import { useFieldArray, useForm, type FieldPath } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { draftFromStrategy, editRequests } from "../lib/strategyEdit";
import { sendJson } from "../lib/http";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { accountsQuery } from "./AccountsPage";
import { basketsQuery } from "./StrategiesPage";
import { StrategyReview } from "./StrategyDetailPage";
import { LegPreview, usePayoffPreview } from "../components/LegPreview";
import { StrategyPreview } from "../components/StrategyPreview";
import { formatNumber } from "../lib/format";
import {
  draftSchema, emptyDraft, ironCondorLegs, lotsPerAccount, METHODS, newLeg, toAllocations, toLegs, toStrategySpec,
  UNDERLYINGS, unitsPerAccount, WEEKDAYS, type Draft,
} from "../lib/strategyDraft";

const STEPS = ["Basic info", "Schedule", "Legs", "Risk", "Allocation", "Review"] as const;
const STEP_FIELDS: FieldPath<Draft>[][] = [
  ["strategy_name", "underlying", "product", "basket_id"],
  ["entry_time", "exit_time", "entry_days", "exit_days"],
  ["legs"],
  ["mtm_stop_loss", "mtm_target", "legs"],
  ["accounts", "allocation_type"],
];

/** The six-step builder: the strategy is saved PAUSED at the end of step 5, the review shows
 * the server's executability problems and resulting quantities, and Activate is one click. */
export default function BuilderPage() {
  const client = useQueryClient();
  const [step, setStep] = useState(0);
  const [saved, setSaved] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const form = useForm<Draft>({ resolver: zodResolver(draftSchema), defaultValues: emptyDraft(), mode: "onChange" });
  const { register, control, watch, setValue, trigger, formState: { errors } } = form;
  const legs = useFieldArray({ control, name: "legs" });
  const accounts = useQuery(accountsQuery());
  const baskets = useQuery(basketsQuery());
  const draft = watch();
  // editing a saved strategy (route strategies/:strategyId/edit): its stored state as the draft
  const { strategyId: editId } = useParams();
  const [stored, setStored] = useState<{ legNos: number[]; clients: string[] } | null>(null);
  const editPath = { params: { path: { strategy_id: editId ?? "" } } };
  const existing = useQuery({ queryKey: ["strategy", editId], enabled: !!editId,
    queryFn: async () => unwrap(await api().GET("/options/strategies/{strategy_id}", editPath)) });
  const existingAllocations = useQuery({ queryKey: ["strategy", editId, "allocations"], enabled: !!editId,
    queryFn: async () => unwrap(await api().GET("/options/strategies/{strategy_id}/allocations", editPath)).items });

  useEffect(() => {
    if (editId) {
      if (stored || !existing.data || !existingAllocations.data || !accounts.data) return;
      const legs = existing.data.legs as unknown as Schemas["Leg"][];
      form.reset(draftFromStrategy(existing.data.strategy, legs, existingAllocations.data, accounts.data.map((a) => a.client_id)));
      setStored({ legNos: legs.map((l) => l.leg_no), clients: existingAllocations.data.map((a) => a.client_id) });
      return;
    }
    if (accounts.data && form.getValues("accounts").length === 0) {
      setValue("accounts", accounts.data.map((a) => ({ client_id: a.client_id, selected: false, multiplier: 1, leg_lots: [] })));
    }
  }, [accounts.data, form, setValue, editId, stored, existing.data, existingAllocations.data]);

  const [stepProblems, setStepProblems] = useState<string[]>([]);
  useEffect(() => {
    const sub = watch(() => setStepProblems([])); // the list is about the values the trader just changed
    return () => sub.unsubscribe();
  }, [watch]);

  async function next() {
    const ok = await trigger(STEP_FIELDS[step]);
    if (!ok) {
      setStepProblems(flattenErrors(form.formState.errors));
      return;
    }
    setStepProblems([]);
    if (step === 4) await save();
    else {
      if (step === 3) {
        // each account starts with the legs' own lots; the trader edits them per leg
        const values = form.getValues();
        setValue("accounts", values.accounts.map((a) => ({ ...a, leg_lots: values.legs.map((l, n) => a.leg_lots[n] ?? Number(l.lots)) })));
      }
      setStep(step + 1);
    }
  }

  async function save() {
    setSaving(true);
    setSaveError(null);
    try {
      const values = form.getValues();
      if (editId && stored) {
        for (const r of editRequests(editId, stored.legNos, stored.clients, values)) await sendJson(r.method, r.path, r.body);
        setStored({ legNos: values.legs.map((_l, i) => i + 1), clients: toAllocations(values).allocations.map((a) => a.client_id) });
        void client.invalidateQueries({ queryKey: ["strategies"] });
        void client.invalidateQueries({ queryKey: ["strategy", editId] });
        setSaved(editId);
        setStep(5);
        return;
      }
      const spec = toStrategySpec(values);
      const created = values.basket_id
        ? unwrap(await api().POST("/options/baskets/{basket_id}/strategies", { params: { path: { basket_id: values.basket_id } }, body: spec }))
        : unwrap(await api().POST("/options/strategies", { body: spec }));
      const path = { params: { path: { strategy_id: created.strategy_id } } };
      unwrap(await api().POST("/options/strategies/{strategy_id}/legs", { ...path, body: toLegs(values) }));
      const allocations = toAllocations(values);
      if (allocations.allocations.length > 0) {
        unwrap(await api().POST("/options/strategies/{strategy_id}/allocations/advanced", { ...path, body: allocations }));
      }
      void client.invalidateQueries({ queryKey: ["strategies"] });
      setSaved(created.strategy_id);
      setStep(5);
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  }

  const selected = lotsPerAccount(draft);
  const payoff = usePayoffPreview(draft);
  const lotSizes = draft.legs.map((_l, n) => payoff.data?.legs[n]?.lot_size ?? null);
  const units = unitsPerAccount(draft, lotSizes);
  return (
    <>
      <h1>{editId ? `Edit ${existing.data?.strategy.strategy_name ?? "strategy"}` : "Build a strategy"}</h1>
      {editId && <ErrorText error={existing.error ?? existingAllocations.error} />}
      {editId && !stored && !existing.error && <p className="loading">Loading the strategy…</p>}
      <ol className="steps" aria-label="Builder steps">
        {STEPS.map((s, i) => <li key={s} aria-current={i === step ? "step" : undefined} className={i === step ? "current" : i < step ? "done" : ""}>{i + 1}. {s}</li>)}
      </ol>
      <form className="card" onSubmit={(e) => { e.preventDefault(); void next(); }} noValidate aria-labelledby="step-heading">
        <h2 id="step-heading">{STEPS[step]}</h2>
        {step === 0 && (
          <div className="grid">
            <div className="field"><label>Strategy name<input {...register("strategy_name")} aria-invalid={!!errors.strategy_name} /></label>{errors.strategy_name && <span className="error">{errors.strategy_name.message}</span>}</div>
            <label>Basket
              <select {...register("basket_id")}>
                <option value="">(no basket)</option>
                {baskets.data?.map((b) => <option key={b.basket_id} value={b.basket_id}>{b.basket_name}</option>)}
              </select>
            </label>
            <label>Underlying<select {...register("underlying")}>{UNDERLYINGS.map((u) => <option key={u}>{u}</option>)}</select></label>
            <label>Product<select {...register("product")}><option>NRML</option><option>MIS</option></select></label>
            <label className="check"><input type="checkbox" {...register("is_intra_day")} /> Intraday (exit the same day)</label>
            <label className="wide">Description<textarea rows={2} {...register("description")} /></label>
          </div>
        )}
        {step === 1 && (
          <div className="grid">
            <div className="field"><label>Entry time (IST)<input type="time" {...register("entry_time")} /></label>{errors.entry_time && <span className="error">{errors.entry_time.message}</span>}</div>
            <div className="field"><label>Exit time (IST)<input type="time" {...register("exit_time")} /></label>{errors.exit_time && <span className="error">{errors.exit_time.message}</span>}</div>
            {(["entry_days", "exit_days"] as const).map((field) => (
              <fieldset key={field} className="wide">
                <legend>{field === "entry_days" ? "Entry days" : "Exit days"}</legend>
                {WEEKDAYS.map((d) => <label key={d} className="check"><input type="checkbox" value={d} {...register(field)} /> {d.slice(0, 3)}</label>)}
                {errors[field] && <span className="error">{errors[field]?.message}</span>}
              </fieldset>
            ))}
          </div>
        )}
        {step === 2 && (
          <>
            <p><button type="button" className="secondary" onClick={() => legs.replace(ironCondorLegs())}>Use the iron condor template</button></p>
            <table className="legs">
              <thead><tr><th scope="col">Leg</th><th scope="col">Side</th><th scope="col">Type</th><th scope="col">Lots</th><th scope="col">Expiry</th><th scope="col">Selection</th><th scope="col">Value</th><th scope="col">Order</th><th scope="col"><span className="sr-only">Remove</span></th></tr></thead>
              <tbody>
                {legs.fields.map((f, i) => {
                  const method = draft.legs[i]?.method ?? f.method;
                  return (
                    <tr key={f.id}>
                      <td>{i + 1}</td>
                      <td><select aria-label={`Leg ${i + 1} side`} {...register(`legs.${i}.transaction_type`)}><option>SELL</option><option>BUY</option></select></td>
                      <td><select aria-label={`Leg ${i + 1} option type`} {...register(`legs.${i}.leg_type`)}><option>PUT</option><option>CALL</option></select></td>
                      <td><input aria-label={`Leg ${i + 1} lots`} className="narrow" type="number" min={1} {...register(`legs.${i}.lots`, { valueAsNumber: true })} /></td>
                      <td>
                        <select aria-label={`Leg ${i + 1} expiry`} {...register(`legs.${i}.expiry_type`)}><option>WEEKLY</option><option>MONTHLY</option></select>
                        <input aria-label={`Leg ${i + 1} expiry offset`} className="narrow" type="number" min={0} {...register(`legs.${i}.expiry_offset`, { valueAsNumber: true })} />
                      </td>
                      <td><select aria-label={`Leg ${i + 1} selection method`} {...register(`legs.${i}.method`)}>{Object.entries(METHODS).map(([k, m]) => <option key={k} value={k}>{m.label}</option>)}</select></td>
                      <td>{METHODS[method].fields.map((fld) => <input key={fld.key} aria-label={`Leg ${i + 1} ${fld.label}`} placeholder={fld.label} className="narrow" inputMode="decimal" {...register(`legs.${i}.values.${fld.key}`)} />)}</td>
                      <td><select aria-label={`Leg ${i + 1} order type`} {...register(`legs.${i}.order_type`)}><option>LIMIT</option><option>MARKET</option></select></td>
                      <td><button type="button" className="secondary" aria-label={`Remove leg ${i + 1}`} onClick={() => legs.remove(i)}>✕</button></td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {errors.legs?.message && <p className="error">{errors.legs.message}</p>}
            <p><button type="button" className="secondary" onClick={() => legs.append(newLeg())}>Add leg</button></p>
            <LegPreview draft={draft} />
          </>
        )}
        {step === 3 && (
          <>
            <div className="grid">
              <label>MTM stop loss (₹, whole strategy)<input inputMode="decimal" {...register("mtm_stop_loss")} /></label>
              <label>MTM target (₹)<input inputMode="decimal" {...register("mtm_target")} /></label>
              <p className="hint wide">The strategy exits every leg in every account when its MTM reaches −stop or +target (rupees). Per leg: a stop loss and a target on the option premium, in percent of the entry fill or in rupees (points), and a trailing stop that starts once the leg is that far in profit and then follows by the step.</p>
            </div>
            <table className="legs">
              <caption className="sr-only">Stops, targets and trailing per leg</caption>
              <thead><tr><th scope="col">Leg</th><th scope="col">Stop loss</th><th scope="col">Stop in</th><th scope="col">Target</th><th scope="col">Target in</th><th scope="col">Trail after</th><th scope="col">Trail by</th></tr></thead>
              <tbody>
                {draft.legs.map((l, i) => (
                  <tr key={legs.fields[i]?.id ?? i}>
                    <th scope="row">{i + 1} {l.transaction_type} {l.leg_type}</th>
                    <td><input aria-label={`Leg ${i + 1} stop loss`} className="narrow" inputMode="decimal" {...register(`legs.${i}.stop_loss`)} /></td>
                    <td><select aria-label={`Leg ${i + 1} stop loss unit`} {...register(`legs.${i}.stop_loss_type`)}><option value="PERCENTAGE">% of entry</option><option value="POINTS">₹ (points)</option></select></td>
                    <td><input aria-label={`Leg ${i + 1} target`} className="narrow" inputMode="decimal" {...register(`legs.${i}.target`)} /></td>
                    <td><select aria-label={`Leg ${i + 1} target unit`} {...register(`legs.${i}.target_type`)}><option value="PERCENTAGE">% of entry</option><option value="POINTS">₹ (points)</option></select></td>
                    <td><input aria-label={`Leg ${i + 1} trail after`} className="narrow" inputMode="decimal" {...register(`legs.${i}.trail_after`)} /></td>
                    <td><input aria-label={`Leg ${i + 1} trail by`} className="narrow" inputMode="decimal" {...register(`legs.${i}.trail_by`)} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
            <table className="legs">
              <caption>LIMIT prices: percent of the LTP through the market, and the most a re-price may go</caption>
              <thead><tr><th scope="col">Leg</th><th scope="col">Entry slippage %</th><th scope="col">Entry at most %</th><th scope="col">Exit slippage %</th><th scope="col">Exit at most %</th></tr></thead>
              <tbody>
                {draft.legs.map((l, i) => (
                  <tr key={legs.fields[i]?.id ?? i}>
                    <th scope="row">{i + 1} {l.transaction_type} {l.leg_type}</th>
                    <td><input aria-label={`Leg ${i + 1} entry slippage percent`} className="narrow" inputMode="decimal" {...register(`legs.${i}.entry_slippage`)} /></td>
                    <td><input aria-label={`Leg ${i + 1} entry max slippage percent`} className="narrow" inputMode="decimal" {...register(`legs.${i}.entry_max_slippage`)} /></td>
                    <td><input aria-label={`Leg ${i + 1} exit slippage percent`} className="narrow" inputMode="decimal" {...register(`legs.${i}.exit_slippage`)} /></td>
                    <td><input aria-label={`Leg ${i + 1} exit max slippage percent`} className="narrow" inputMode="decimal" {...register(`legs.${i}.exit_max_slippage`)} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
        {step === 4 && (
          <>
            <fieldset>
              <legend>Allocate</legend>
              <label className="check"><input type="radio" value="STRATEGY_LEVEL" {...register("allocation_type")} /> the whole strategy × a multiplier per account</label>
              <label className="check"><input type="radio" value="LEG_LEVEL" {...register("allocation_type")} /> lots per leg per account</label>
            </fieldset>
            {draft.accounts.length === 0 && <p>No broker accounts yet: <Link to="/accounts">link one</Link>.</p>}
            <table>
              <thead><tr><th scope="col">Account</th>{draft.allocation_type === "STRATEGY_LEVEL" ? <th scope="col">Multiplier</th> : draft.legs.map((l, n) => <th scope="col" key={n}>Leg {n + 1} {l.transaction_type} {l.leg_type} lots</th>)}<th scope="col">Total lots</th><th scope="col">Units per leg</th></tr></thead>
              <tbody>
                {draft.accounts.map((a, i) => (
                  <tr key={a.client_id}>
                    <td><label className="check"><input type="checkbox" {...register(`accounts.${i}.selected`)} /> {a.client_id}</label></td>
                    {draft.allocation_type === "STRATEGY_LEVEL"
                      ? <td><input aria-label={`${a.client_id} multiplier`} className="narrow" type="number" min={1} {...register(`accounts.${i}.multiplier`, { valueAsNumber: true })} /></td>
                      : draft.legs.map((_l, n) => <td key={n}><input aria-label={`${a.client_id} leg ${n + 1} lots`} className="narrow" type="number" min={0} {...register(`accounts.${i}.leg_lots.${n}`, { valueAsNumber: true })} /></td>)}
                    <td>{selected.find((s) => s.client_id === a.client_id)?.total ?? "—"}</td>
                    <td>{unitsText(units.find((u) => u.client_id === a.client_id)?.units)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="hint">Units = lots × the lot size of the contract each leg picks now{lotSizes.some(Boolean) ? ` (${lotSizes.map((n, i) => `leg ${i + 1}: ${n ?? "?"}`).join(", ")})` : ""}; the review shows the engine's own quantities and freeze slices for the trade date.</p>
          </>
        )}
        {step === 5 && saved && <><StrategyReview strategyId={saved} /><StrategyPreview strategyId={saved} /></>}
        {stepProblems.length > 0 && <ul role="alert" className="error">{stepProblems.map((p) => <li key={p}>{p}</li>)}</ul>}
        <ErrorText error={saveError} />
        <div className="nav-buttons">
          {step > 0 && step < 5 && <button type="button" className="secondary" onClick={() => setStep(step - 1)}>Back</button>}
          {step < 4 && <button type="submit">Next</button>}
          {step === 4 && <button type="submit" disabled={saving || (!!editId && !stored)}>{saving ? "Saving…" : editId ? "Save changes and review" : "Save and review"}</button>}
        </div>
      </form>
    </>
  );
}

export type { Schemas };

function unitsText(units: (number | null)[] | undefined): string {
  if (!units || units.length === 0) return "—";
  return units.map((u) => (u === null ? "?" : formatNumber(u))).join(" / ");
}

/** "legs.2.lots: At least 1 lot" for every message in react-hook-form's nested errors. */
export function flattenErrors(errors: unknown, prefix = ""): string[] {
  if (!errors || typeof errors !== "object") return [];
  const e = errors as Record<string, unknown>;
  if (typeof e.message === "string" && e.message) return [`${prefix || "form"}: ${e.message}`];
  return Object.entries(e).filter(([k]) => k !== "ref" && k !== "type" && k !== "root")
    .flatMap(([k, v]) => flattenErrors(v, prefix ? `${prefix}.${k}` : k));
}
