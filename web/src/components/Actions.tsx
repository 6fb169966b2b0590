/**
 * The dashboard's actions (issue 18's routes): cancel or modify a working order, close a
 * position, the trader's kill switch. Each asks for a confirmation in place (no browser dialog),
 * shows what the API answered, and refreshes the dashboard's queries.
 *
 * Routes (typed from docs/openapi.json): POST /options/orders/{order_id}/cancel, POST /options/orders/{order_id}/modify
 * {price, trigger_price, quantity} (order_id = the order's public id, its broker tag),
 * POST /options/positions/{position_id}/close, GET/PUT /options/kill-switch {on, reason}.
 */
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "./Layout";
import { formatIstDateTime, formatLots } from "../lib/format";

type Order = Schemas["OrderRecord"];
/** Orders a broker still lets you cancel or modify. */
export const WORKING = new Set(["OPEN", "TRIGGER_PENDING", "PARTIALLY_FILLED"]);

function useRefresh() {
  const client = useQueryClient();
  return () => {
    for (const key of ["execution", "executions", "positions", "orders", "kill-switch"]) void client.invalidateQueries({ queryKey: [key] });
  };
}

/** What a modify sends: only the fields the trader changed; quantity in units, a multiple of the lot size. */
export function modifyBody(order: Order, price: string, trigger: string, lots: string): { body: Record<string, number>; problem: string | null } {
  const body: Record<string, number> = {};
  const p = price.trim() === "" ? null : Number(price);
  const t = trigger.trim() === "" ? null : Number(trigger);
  const l = lots.trim() === "" ? null : Number(lots);
  if (p !== null && (!Number.isFinite(p) || p <= 0)) return { body, problem: "Price: a positive number of rupees" };
  if (t !== null && (!Number.isFinite(t) || t <= 0)) return { body, problem: "Trigger: a positive number of rupees" };
  if (l !== null && (!Number.isInteger(l) || l < 1)) return { body, problem: "Lots: a whole number, at least 1" };
  if (p !== null && String(p) !== String(Number(order.price ?? NaN))) body.price = p;
  if (t !== null && String(t) !== String(Number(order.trigger_price ?? NaN))) body.trigger_price = t;
  if (l !== null && l !== order.lots) body.quantity = l * order.lot_size;
  if (Object.keys(body).length === 0) return { body, problem: "Nothing changed" };
  return { body, problem: null };
}

export function OrderActions({ order }: { order: Order }) {
  const refresh = useRefresh();
  const [mode, setMode] = useState<"idle" | "cancel" | "modify">("idle");
  const [price, setPrice] = useState(order.price ?? "");
  const [trigger, setTrigger] = useState(order.trigger_price ?? "");
  const [lots, setLots] = useState(String(order.lots));
  const [problem, setProblem] = useState<string | null>(null);
  const path = { params: { path: { order_id: order.tag ?? "" } } };
  const cancel = useMutation({
    mutationFn: async () => unwrap(await api().POST("/options/orders/{order_id}/cancel", path)),
    onSuccess: () => setMode("idle"), onSettled: refresh,
  });
  const modify = useMutation({
    mutationFn: async (body: Schemas["ModifyOrderRequest"]) => unwrap(await api().POST("/options/orders/{order_id}/modify", { ...path, body })),
    onSuccess: () => setMode("idle"), onSettled: refresh,
  });
  if (!WORKING.has(order.status ?? "")) return null;
  const label = `${order.transaction_type} ${order.tradingsymbol}`;
  const stop = order.order_type === "SL" || order.order_type === "SL-M";
  return (
    <div className="row-actions">
      {mode === "idle" && (
        <span className="actions">
          <button type="button" className="secondary" onClick={() => setMode("modify")} aria-label={`Modify ${label}`}>Modify</button>
          <button type="button" className="danger" onClick={() => setMode("cancel")} aria-label={`Cancel ${label}`}>Cancel</button>
        </span>
      )}
      {mode === "cancel" && (
        <span className="actions" role="group" aria-label={`Confirm cancelling ${label}`}>
          <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate()}>Confirm cancel</button>
          <button type="button" className="secondary" onClick={() => setMode("idle")}>Keep</button>
        </span>
      )}
      {mode === "modify" && (
        <form className="inline" aria-label={`Modify ${label}`} onSubmit={(e) => {
          e.preventDefault();
          const { body, problem: p } = modifyBody(order, price, trigger, lots);
          setProblem(p);
          if (!p) modify.mutate(body);
        }}>
          {order.order_type !== "MARKET" && order.order_type !== "SL-M" && <label>Price ₹<input className="narrow" inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} /></label>}
          {stop && <label>Trigger ₹<input className="narrow" inputMode="decimal" value={trigger} onChange={(e) => setTrigger(e.target.value)} /></label>}
          <label>Lots<input className="narrow" type="number" min={1} value={lots} onChange={(e) => setLots(e.target.value)} /></label>
          <span className="hint">{formatLots(Number(lots) || 0, order.lot_size)}</span>
          <button type="submit" disabled={modify.isPending}>Send</button>
          <button type="button" className="secondary" onClick={() => { setMode("idle"); setProblem(null); }}>Back</button>
          {problem && <span role="alert" className="error">{problem}</span>}
        </form>
      )}
      {(cancel.data ?? modify.data) && mode === "idle" && (
        <small role="status">{(cancel.data ?? modify.data)!.action === "CANCEL" ? "cancelled" : "modified"}: {(cancel.data ?? modify.data)!.status}
          {(cancel.data ?? modify.data)!.broker_message ? ` (${(cancel.data ?? modify.data)!.broker_message})` : ""}</small>
      )}
      <ErrorText error={cancel.error ?? modify.error} />
    </div>
  );
}

type Position = Schemas["PositionView"];

export function ClosePosition({ position }: { position: Position }) {
  const refresh = useRefresh();
  const [confirming, setConfirming] = useState(false);
  const close = useMutation({
    mutationFn: async () => unwrap(await api().POST("/options/positions/{position_id}/close", { params: { path: { position_id: position.position_id! } } })),
    onSuccess: () => setConfirming(false), onSettled: refresh,
  });
  const label = `${position.client_id} ${position.tradingsymbol}`;
  if (position.quantity === 0 && !close.data) return null;
  if (!position.position_id) return <span className="hint">—</span>;
  return (
    <>
      {position.quantity === 0 ? null : !confirming
        ? <button type="button" className="danger" onClick={() => setConfirming(true)} aria-label={`Close ${label}`}>Close</button>
        : <span className="actions" role="group" aria-label={`Confirm closing ${label}`}>
            <button type="button" className="danger" disabled={close.isPending} onClick={() => close.mutate()}>Confirm close at market</button>
            <button type="button" className="secondary" onClick={() => setConfirming(false)}>Keep</button>
          </span>}
      {close.data && (
        <span role="status" className="ok"> exit sent: {close.data.orders.length} {close.data.orders.length === 1 ? "order" : "orders"}
          {close.data.cancelled_orders.length ? `, ${close.data.cancelled_orders.length} cancelled first` : ""}
          {close.data.reasons.length ? ` (${close.data.reasons.join("; ")})` : ""}</span>
      )}
      <ErrorText error={close.error} />
    </>
  );
}

export function KillSwitchPanel() {
  const client = useQueryClient();
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const view = useQuery({ queryKey: ["kill-switch"], queryFn: async () => unwrap(await api().GET("/options/kill-switch")), refetchInterval: 15_000 });
  const set = useMutation({
    mutationFn: async (on: boolean) => unwrap(await api().PUT("/options/kill-switch", { body: { on, reason: on ? reason.trim() || "stopped from the dashboard" : "" } })),
    onSuccess: () => { setConfirming(false); setReason(""); },
    onSettled: () => client.invalidateQueries({ queryKey: ["kill-switch"] }),
  });
  const v = view.data;
  const mine = v?.user;
  return (
    <section aria-labelledby="kill-heading" className={`card kill ${v?.stops_entries ? "on" : ""}`}>
      <h2 id="kill-heading">Kill switch</h2>
      <ErrorText error={view.error} />
      {v && (
        <p role="status" data-testid="kill-state">
          {v.stops_entries ? <strong className="error">New entries are stopped</strong> : <strong className="ok">Entries allowed</strong>}
          {v.global_switch?.on ? ` · platform switch on: ${v.global_switch.reason}` : ""}
          {mine?.on ? ` · yours on since ${formatIstDateTime(mine.updated_at)}${mine.reason ? `: ${mine.reason}` : ""}` : ""}
          {(v.accounts ?? []).filter((a) => a.on).map((a) => ` · ${a.client_id} stopped`).join("")}
          . Exits, stops and closes still run.
        </p>
      )}
      {v && !mine?.on && !confirming && <button type="button" className="danger" onClick={() => setConfirming(true)}>Stop all new entries</button>}
      {v && !mine?.on && confirming && (
        <form className="inline" aria-label="Confirm the kill switch" onSubmit={(e) => { e.preventDefault(); set.mutate(true); }}>
          <label>Reason<input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} /></label>
          <button type="submit" className="danger" disabled={set.isPending}>Confirm: stop new entries</button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>Back</button>
        </form>
      )}
      {mine?.on && <button type="button" onClick={() => set.mutate(false)} disabled={set.isPending}>Allow entries again</button>}
      <ErrorText error={set.error} />
    </section>
  );
}


