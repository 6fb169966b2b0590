/**
 * The builder's draft and how it becomes the API's requests (StrategySpec, LegsCreate,
 * AdvancedAllocationRequest). Pure functions, unit-tested; the wizard only edits a Draft.
 */
import { z } from "zod";
import type { Schemas } from "../api/client";

export const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"] as const;
export const UNDERLYINGS = ["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX"] as const;

/** Each selection method and the StrikeSelectionConfig fields it needs (strike_selection.py). */
export const METHODS: Record<Schemas["EntryBy"], { label: string; fields: { key: keyof Schemas["StrikeSelectionConfig-Input"]; label: string }[] }> = {
  ATM_OFFSET: { label: "ATM ± listed strikes", fields: [{ key: "atm_offset", label: "Strikes from ATM" }] },
  STRIKE_DISTANCE: { label: "Points from ATM", fields: [{ key: "strike_distance", label: "Index points" }] },
  ATM_PERCENT: { label: "% of spot from ATM", fields: [{ key: "atm_percent", label: "Percent" }] },
  STRIKE: { label: "Fixed strike", fields: [{ key: "strike", label: "Strike" }] },
  CLOSEST_PREMIUM: { label: "Closest premium", fields: [{ key: "premium", label: "Premium ₹" }] },
  PREMIUM_GTE: { label: "Premium ≥", fields: [{ key: "premium", label: "Premium ₹" }] },
  PREMIUM_LTE: { label: "Premium ≤", fields: [{ key: "premium", label: "Premium ₹" }] },
  PREMIUM_RANGE: { label: "Premium range", fields: [{ key: "premium_min", label: "Min ₹" }, { key: "premium_max", label: "Max ₹" }] },
  DELTA: { label: "Delta", fields: [{ key: "delta_value", label: "|Delta| (0–1)" }] },
  STRADDLE_WIDTH: { label: "ATM ± straddle width", fields: [{ key: "straddle_width_multiplier", label: "× straddle" }] },
  ATM_STRADDLE_PERCENT: { label: "% of ATM straddle", fields: [{ key: "straddle_percent", label: "Percent" }] },
};

const leg = z.object({
  leg_type: z.enum(["CALL", "PUT"]),
  transaction_type: z.enum(["BUY", "SELL"]),
  lots: z.number().int().min(1, "At least 1 lot"),
  expiry_type: z.enum(["WEEKLY", "MONTHLY"]),
  expiry_offset: z.number().int().min(0),
  method: z.enum(Object.keys(METHODS) as [Schemas["EntryBy"], ...Schemas["EntryBy"][]]),
  values: z.record(z.string(), z.string()),
  order_type: z.enum(["MARKET", "LIMIT"]),
  stop_loss: z.string(),
  stop_loss_type: z.enum(["PERCENTAGE", "POINTS"]),
  target: z.string(),
  target_type: z.enum(["PERCENTAGE", "POINTS"]),
  /** trailing stop: start trailing once this far in profit, then trail by `trail_by` (the stop's units) */
  trail_after: z.string(),
  trail_by: z.string(),
  /** LIMIT prices: percent of LTP through the market at entry/exit, and the most a re-price may go */
  entry_slippage: z.string(),
  exit_slippage: z.string(),
  entry_max_slippage: z.string(),
  exit_max_slippage: z.string(),
}).refine((l) => (l.trail_after.trim() === "") === (l.trail_by.trim() === ""), { path: ["trail_by"], message: "A trailing stop needs both when to start and by how much" })
  .refine((l) => l.trail_after.trim() === "" || l.stop_loss.trim() !== "", { path: ["stop_loss"], message: "A trailing stop trails a stop loss: set one" })
  .refine((l) => !l.entry_max_slippage.trim() || Number(l.entry_max_slippage) >= Number(l.entry_slippage || 0), { path: ["entry_max_slippage"], message: "The most a re-price may go is at least the entry slippage" })
  .refine((l) => !l.exit_max_slippage.trim() || Number(l.exit_max_slippage) >= Number(l.exit_slippage || 0), { path: ["exit_max_slippage"], message: "The most a re-price may go is at least the exit slippage" });

const account = z.object({
  client_id: z.string(),
  selected: z.boolean(),
  multiplier: z.number().int().min(1),
  leg_lots: z.array(z.number().int().min(0)),
});

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM (IST)");

export const draftSchema = z.object({
  basket_id: z.string(),
  strategy_name: z.string().trim().min(1, "Name the strategy").max(100),
  description: z.string().max(500),
  underlying: z.enum(UNDERLYINGS),
  product: z.enum(["NRML", "MIS"]),
  is_intra_day: z.boolean(),
  entry_time: hhmm,
  exit_time: hhmm,
  entry_days: z.array(z.enum(WEEKDAYS)).min(1, "Pick at least one entry day"),
  exit_days: z.array(z.enum(WEEKDAYS)).min(1, "Pick at least one exit day"),
  legs: z.array(leg).min(1, "Add at least one leg"),
  mtm_stop_loss: z.string(),
  mtm_target: z.string(),
  allocation_type: z.enum(["STRATEGY_LEVEL", "LEG_LEVEL"]),
  accounts: z.array(account),
}).refine((d) => d.is_intra_day ? d.exit_time > d.entry_time : true, { path: ["exit_time"], message: "An intraday exit comes after the entry" });

export type Draft = z.input<typeof draftSchema>;
export type LegDraft = Draft["legs"][number];

export function newLeg(overrides: Partial<LegDraft> = {}): LegDraft {
  return { leg_type: "PUT", transaction_type: "SELL", lots: 1, expiry_type: "WEEKLY", expiry_offset: 0, method: "ATM_OFFSET",
    values: {}, order_type: "LIMIT", stop_loss: "", stop_loss_type: "PERCENTAGE", target: "", target_type: "PERCENTAGE",
    trail_after: "", trail_by: "", entry_slippage: "", exit_slippage: "", entry_max_slippage: "", exit_max_slippage: "", ...overrides };
}

export function emptyDraft(): Draft {
  return { basket_id: "", strategy_name: "", description: "", underlying: "NIFTY", product: "NRML", is_intra_day: false,
    entry_time: "09:30", exit_time: "15:20", entry_days: ["MONDAY"], exit_days: ["FRIDAY"], legs: [newLeg()],
    mtm_stop_loss: "", mtm_target: "", allocation_type: "STRATEGY_LEVEL", accounts: [] };
}

const num = (s: string | undefined) => (s === undefined || s.trim() === "" ? null : Number(s));

export function toStrategySpec(d: Draft): Schemas["StrategySpec"] {
  return {
    strategy_name: d.strategy_name.trim(), description: d.description, underlying: d.underlying, product: d.product,
    is_intra_day: d.is_intra_day, entry_time: d.entry_time, exit_time: d.exit_time, entry_days: d.entry_days, exit_days: d.exit_days,
    risk: { mtm_stop_loss: num(d.mtm_stop_loss), mtm_target: num(d.mtm_target) },
    partial_fill_policy: "LEAVE", status: "PAUSED",
  };
}

export function toLegs(d: Draft): Schemas["LegsCreate"] {
  return {
    legs: d.legs.map((l, i) => {
      const config: Schemas["StrikeSelectionConfig-Input"] = { method: l.method };
      for (const f of METHODS[l.method].fields) (config as Record<string, unknown>)[f.key] = num(l.values[f.key]);
      return {
        leg_no: i + 1, underlying: d.underlying, leg_type: l.leg_type, transaction_type: l.transaction_type, lots: Number(l.lots),
        expiry_type: l.expiry_type, expiry_offset: Number(l.expiry_offset), entry_by: l.method, strike_selection_config: config,
        order_type: l.order_type, stop_loss: num(l.stop_loss), stop_loss_type: l.stop_loss_type,
        target: num(l.target), target_type: l.target_type,
        trailing_stop: l.trail_after.trim() && l.trail_by.trim() ? { activate_after: Number(l.trail_after), trail_by: Number(l.trail_by) } : null,
        entry_slippage: num(l.entry_slippage) ?? 0, exit_slippage: num(l.exit_slippage) ?? 0,
        entry_max_slippage: num(l.entry_max_slippage) ?? 0, exit_max_slippage: num(l.exit_max_slippage) ?? 0,
        category: l.transaction_type === "SELL" ? "SHORT" : "LONG",
      };
    }),
  };
}

export function toAllocations(d: Draft): Schemas["AdvancedAllocationRequest"] {
  const chosen = d.accounts.filter((a) => a.selected);
  return {
    allocations: chosen.map((a, i) => ({
      client_id: a.client_id, priority: i + 1,
      allocation_config: d.allocation_type === "STRATEGY_LEVEL"
        ? { type: "STRATEGY_LEVEL", strategy_lots_multiplier: Number(a.multiplier) }
        : { type: "LEG_LEVEL", leg_overrides: Object.fromEntries(d.legs.map((_, n) => [String(n + 1), { lots: Number(a.leg_lots[n] ?? 0), enabled: Number(a.leg_lots[n] ?? 0) > 0 }])) },
    })),
  };
}

/** The legs as the payoff calculator's selection rules (POST /options/calculator/payoff), or null
 * while a leg still misses a value its method needs (the server would answer 422). */
export function toCalculatorLegs(d: Pick<Draft, "underlying" | "legs">): Schemas["CalculatorRequest"] | null {
  const legs: Schemas["CalculatorLeg"][] = [];
  for (const l of d.legs) {
    const config: Schemas["StrikeSelectionConfig-Input"] = { method: l.method };
    for (const f of METHODS[l.method].fields) {
      const v = num(l.values[f.key]);
      if (v === null || !Number.isFinite(v)) return null;
      (config as Record<string, unknown>)[f.key] = v;
    }
    const lots = Number(l.lots);
    if (!Number.isInteger(lots) || lots < 1) return null;
    legs.push({ side: l.transaction_type, lots, underlying: d.underlying, option_type: l.leg_type === "CALL" ? "CE" : "PE",
      expiry_type: l.expiry_type, expiry_offset: Number(l.expiry_offset) || 0, strike_selection_config: config });
  }
  return legs.length > 0 ? { legs, points: 81, range_pct: 6 } : null;
}

/** Lots each chosen account would trade per leg (what the allocation step shows before saving). */
export function lotsPerAccount(d: Draft): { client_id: string; legs: number[]; total: number }[] {
  return d.accounts.filter((a) => a.selected).map((a) => {
    const legs = d.legs.map((l, n) => d.allocation_type === "STRATEGY_LEVEL" ? Number(l.lots) * Number(a.multiplier) : Number(a.leg_lots[n] ?? 0));
    return { client_id: a.client_id, legs, total: legs.reduce((x, y) => x + y, 0) };
  });
}

/** Units each chosen account would trade per leg: lots x the contract's lot size (from the
 * live preview; null where the lot size is not known yet). */
export function unitsPerAccount(d: Draft, lotSizes: (number | null | undefined)[]): { client_id: string; units: (number | null)[]; total: number | null }[] {
  return lotsPerAccount(d).map((a) => {
    const units = a.legs.map((lots, n) => (lotSizes[n] ? lots * lotSizes[n]! : null));
    return { client_id: a.client_id, units, total: units.some((u) => u === null) ? null : units.reduce<number>((x, y) => x + (y ?? 0), 0) };
  });
}

/** The seed's iron condor (journey 1, shared/fixtures/seed_journey_1/03_add_legs.json): two short
 * strikes at delta 0.20 (stop 50 %, slippage 5 %, at most 10 %), hedges 400 points out (stop 25 %,
 * slippage 3 %, at most 8 %). */
export function ironCondorLegs(): LegDraft[] {
  const short = { transaction_type: "SELL", lots: 2, method: "DELTA", values: { delta_value: "0.20" }, stop_loss: "50",
    entry_slippage: "5", exit_slippage: "5", entry_max_slippage: "10", exit_max_slippage: "10" } as const;
  const hedge = { transaction_type: "BUY", lots: 2, method: "STRIKE_DISTANCE", values: { strike_distance: "400" }, stop_loss: "25",
    entry_slippage: "3", exit_slippage: "3", entry_max_slippage: "8", exit_max_slippage: "8" } as const;
  return [
    newLeg({ ...short, leg_type: "PUT", values: { ...short.values } }),
    newLeg({ ...hedge, leg_type: "PUT", values: { ...hedge.values } }),
    newLeg({ ...short, leg_type: "CALL", values: { ...short.values } }),
    newLeg({ ...hedge, leg_type: "CALL", values: { ...hedge.values } }),
  ];
}
