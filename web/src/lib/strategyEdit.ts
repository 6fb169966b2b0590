/**
 * Editing a saved strategy in the builder: the stored strategy, legs and allocations as a Draft,
 * and the requests that turn the stored state into the edited one with the API's own routes
 * (PUT /options/strategies/{id}; PUT, POST or DELETE per leg; PUT, POST or DELETE per allocation),
 * so the API applies its usual rules (an ACTIVE strategy's changes, MFA for LIVE lots, limits).
 */
import type { Schemas } from "../api/client";
import { emptyDraft, METHODS, newLeg, toAllocations, toLegs, toStrategySpec, type Draft } from "./strategyDraft";

const str = (v: unknown) => (v === null || v === undefined ? "" : String(v));

export function draftFromStrategy(strategy: Schemas["Strategy"], legs: Schemas["Leg"][], allocations: Schemas["Allocation"][],
                                  accountIds: string[]): Draft {
  const sorted = [...legs].sort((a, b) => a.leg_no - b.leg_no);
  const byClient = new Map(allocations.map((a) => [a.client_id, a]));
  const leveled = allocations.some((a) => a.allocation_config.type === "LEG_LEVEL");
  const clients = [...new Set([...accountIds, ...allocations.map((a) => a.client_id)])];
  return {
    ...emptyDraft(),
    basket_id: strategy.basket_id ?? "", strategy_name: strategy.strategy_name, description: strategy.description ?? "",
    underlying: strategy.underlying as Draft["underlying"], product: strategy.product as Draft["product"], is_intra_day: strategy.is_intra_day,
    entry_time: strategy.entry_time, exit_time: strategy.exit_time,
    entry_days: strategy.entry_days as Draft["entry_days"], exit_days: strategy.exit_days as Draft["exit_days"],
    mtm_stop_loss: str(strategy.risk?.mtm_stop_loss), mtm_target: str(strategy.risk?.mtm_target),
    legs: sorted.map((l) => {
      const cfg = (l.strike_selection_config ?? {}) as Record<string, unknown>;
      const values = Object.fromEntries(METHODS[l.entry_by].fields.map((f) => [f.key, str(cfg[f.key])]));
      return newLeg({
        leg_type: l.leg_type as "CALL" | "PUT", transaction_type: l.transaction_type as "BUY" | "SELL", lots: l.lots,
        expiry_type: l.expiry_type as "WEEKLY" | "MONTHLY", expiry_offset: l.expiry_offset, method: l.entry_by, values,
        order_type: (l.order_type === "MARKET" ? "MARKET" : "LIMIT"), stop_loss: str(l.stop_loss), stop_loss_type: l.stop_loss_type,
        target: str(l.target), target_type: l.target_type ?? "PERCENTAGE",
        trail_after: str(l.trailing_stop?.activate_after), trail_by: str(l.trailing_stop?.trail_by),
        entry_slippage: str(l.entry_slippage), exit_slippage: str(l.exit_slippage),
        entry_max_slippage: str(l.entry_max_slippage), exit_max_slippage: str(l.exit_max_slippage),
      });
    }),
    allocation_type: leveled ? "LEG_LEVEL" : "STRATEGY_LEVEL",
    accounts: clients.map((client_id) => {
      const a = byClient.get(client_id);
      const overrides = (a?.allocation_config.leg_overrides ?? {}) as Record<string, { lots?: number; enabled?: boolean }>;
      return {
        client_id, selected: !!a, multiplier: a?.allocation_config.strategy_lots_multiplier ?? 1,
        leg_lots: sorted.map((l) => {
          const o = overrides[String(l.leg_no)];
          return o ? (o.enabled === false ? 0 : Number(o.lots ?? l.lots)) : l.lots;
        }),
      };
    }),
  };
}

export interface EditRequest { method: "PUT" | "POST" | "DELETE"; path: string; body?: unknown }

/** The requests, in order, that make the stored strategy (`legNos`, `clients`) what `d` says:
 * the strategy's fields; legs changed in place, new legs added, removed legs deleted (last
 * first); allocations changed, added, removed. */
export function editRequests(strategyId: string, legNos: number[], clients: string[], d: Draft): EditRequest[] {
  const base = `/options/strategies/${strategyId}`;
  const { status: _status, ...update } = toStrategySpec(d);
  const out: EditRequest[] = [{ method: "PUT", path: base, body: { ...update, basket_id: d.basket_id || null } }];
  const legs = toLegs(d).legs;
  const stored = new Set(legNos);
  for (const leg of legs) {
    if (stored.has(leg.leg_no)) {
      const { leg_no: _n, ...fields } = leg;
      out.push({ method: "PUT", path: `${base}/legs/${leg.leg_no}`, body: fields });
    }
  }
  const added = legs.filter((l) => !stored.has(l.leg_no));
  if (added.length) out.push({ method: "POST", path: `${base}/legs`, body: { legs: added } });
  for (const n of [...legNos].filter((n) => n > legs.length).sort((a, b) => b - a)) out.push({ method: "DELETE", path: `${base}/legs/${n}` });
  const wanted = toAllocations(d).allocations;
  const had = new Set(clients);
  for (const a of wanted.filter((x) => had.has(x.client_id))) {
    out.push({ method: "PUT", path: `${base}/allocations/${a.client_id}`, body: { priority: a.priority, allocation_config: a.allocation_config } });
  }
  const fresh = wanted.filter((x) => !had.has(x.client_id));
  if (fresh.length) out.push({ method: "POST", path: `${base}/allocations/advanced`, body: { allocations: fresh } });
  for (const c of clients.filter((c) => !wanted.some((w) => w.client_id === c))) out.push({ method: "DELETE", path: `${base}/allocations/${c}` });
  return out;
}
