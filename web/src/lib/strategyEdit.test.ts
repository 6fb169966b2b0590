import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { draftFromStrategy, editRequests } from "./strategyEdit";
import { ironCondorLegs, toLegs, toAllocations, emptyDraft } from "./strategyDraft";

const strategy = { strategy_id: "s1", strategy_name: "Weekly Iron Condor NIFTY", description: "", basket_id: "b1", underlying: "NIFTY", product: "NRML",
  is_intra_day: false, entry_time: "09:32", exit_time: "15:20", entry_days: ["MONDAY"], exit_days: ["FRIDAY"], status: "PAUSED",
  risk: { mtm_stop_loss: "25000", mtm_target: null } } as unknown as Schemas["Strategy"];

function storedLegs(): Schemas["Leg"][] {
  // the legs as the API stores them: decimals as strings, the selection config with every field
  return toLegs({ ...emptyDraft(), legs: ironCondorLegs() }).legs.map((l) => ({
    ...l, stop_loss: l.stop_loss === null ? null : String(l.stop_loss), target: null, trailing_stop: null,
    entry_slippage: String(l.entry_slippage), exit_slippage: String(l.exit_slippage),
    entry_max_slippage: String(l.entry_max_slippage), exit_max_slippage: String(l.exit_max_slippage),
    strike_selection_config: { method: l.entry_by, delta_value: null, strike_distance: null, ...l.strike_selection_config },
  })) as unknown as Schemas["Leg"][];
}

const allocations = [
  { client_id: "PAPER-Z1", priority: 1, allocation_config: { type: "LEG_LEVEL", leg_overrides: { "1": { lots: 3, enabled: true }, "2": { lots: 3, enabled: true }, "3": { lots: 1, enabled: true }, "4": { lots: 1, enabled: true } } } },
  { client_id: "PAPER-A2", priority: 2, allocation_config: { type: "LEG_LEVEL", leg_overrides: { "1": { lots: 1, enabled: true }, "2": { lots: 1, enabled: true }, "3": { lots: 4, enabled: true }, "4": { lots: 0, enabled: false } } } },
] as unknown as Schemas["Allocation"][];

describe("editing a saved strategy", () => {
  it("loads the stored strategy, legs and leg-level allocation as the builder's draft", () => {
    const d = draftFromStrategy(strategy, storedLegs(), allocations, ["PAPER-Z1", "PAPER-A2", "PAPER-X3"]);
    expect(d.strategy_name).toBe("Weekly Iron Condor NIFTY");
    expect(d.mtm_stop_loss).toBe("25000");
    expect(d.legs.map((l) => [l.transaction_type, l.leg_type, l.method, l.stop_loss, l.entry_slippage])).toEqual([
      ["SELL", "PUT", "DELTA", "50", "5"], ["BUY", "PUT", "STRIKE_DISTANCE", "25", "3"], ["SELL", "CALL", "DELTA", "50", "5"], ["BUY", "CALL", "STRIKE_DISTANCE", "25", "3"]]);
    expect(d.legs[0].values).toEqual({ delta_value: "0.2" });
    expect(d.allocation_type).toBe("LEG_LEVEL");
    expect(d.accounts).toEqual([
      { client_id: "PAPER-Z1", selected: true, multiplier: 1, leg_lots: [3, 3, 1, 1] },
      { client_id: "PAPER-A2", selected: true, multiplier: 1, leg_lots: [1, 1, 4, 0] },
      { client_id: "PAPER-X3", selected: false, multiplier: 1, leg_lots: [2, 2, 2, 2] },
    ]);
    // unchanged, it sends back what is stored
    expect(toLegs(d).legs).toEqual(toLegs({ ...emptyDraft(), legs: ironCondorLegs() }).legs.map((l) => ({ ...l, target_type: "PERCENTAGE" })));
    expect(toAllocations(d).allocations.map((a) => a.allocation_config)).toEqual(allocations.map((a) => a.allocation_config));
  });

  it("changes legs in place, deletes removed legs and allocations, adds new ones, through the API's own routes", () => {
    const d = draftFromStrategy(strategy, storedLegs(), allocations, ["PAPER-Z1", "PAPER-A2", "PAPER-X3"]);
    d.legs = d.legs.slice(0, 2); // a put spread now
    d.accounts[1].selected = false; // PAPER-A2 out
    d.accounts[2].selected = true; // PAPER-X3 in
    const requests = editRequests("s1", [1, 2, 3, 4], ["PAPER-Z1", "PAPER-A2"], d);
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "PUT /options/strategies/s1",
      "PUT /options/strategies/s1/legs/1", "PUT /options/strategies/s1/legs/2",
      "DELETE /options/strategies/s1/legs/4", "DELETE /options/strategies/s1/legs/3",
      "PUT /options/strategies/s1/allocations/PAPER-Z1",
      "POST /options/strategies/s1/allocations/advanced",
      "DELETE /options/strategies/s1/allocations/PAPER-A2",
    ]);
    expect(requests[0].body).not.toHaveProperty("status"); // the edit never activates or pauses
    expect(requests[1].body).not.toHaveProperty("leg_no");
    expect((requests[6].body as { allocations: { client_id: string }[] }).allocations.map((a) => a.client_id)).toEqual(["PAPER-X3"]);
  });
});
