import { describe, expect, it } from "vitest";
import { draftSchema, emptyDraft, ironCondorLegs, lotsPerAccount, toAllocations, toLegs, toStrategySpec, type Draft } from "./strategyDraft";

function condor(): Draft {
  return { ...emptyDraft(), strategy_name: "Weekly Iron Condor NIFTY", legs: ironCondorLegs(),
    accounts: [{ client_id: "Z1", selected: true, multiplier: 2, leg_lots: [3, 3, 1, 1] },
               { client_id: "A2", selected: true, multiplier: 1, leg_lots: [1, 1, 4, 4] },
               { client_id: "OFF", selected: false, multiplier: 1, leg_lots: [] }] };
}

describe("strategy draft", () => {
  it("sends each selection method's own value field", () => {
    const legs = toLegs(condor()).legs;
    expect(legs.map((l) => l.leg_no)).toEqual([1, 2, 3, 4]);
    expect(legs[0].strike_selection_config).toEqual({ method: "DELTA", delta_value: 0.2 });
    expect(legs[1].strike_selection_config).toEqual({ method: "STRIKE_DISTANCE", strike_distance: 400 });
    expect(legs[1].transaction_type).toBe("BUY");
    expect(legs[0].stop_loss).toBe(50);
  });
  it("leg-level allocation sends journey 1's overrides for the chosen accounts only", () => {
    const d = { ...condor(), allocation_type: "LEG_LEVEL" as const };
    const body = toAllocations(d);
    expect(body.allocations.map((a) => a.client_id)).toEqual(["Z1", "A2"]);
    expect(body.allocations[0].allocation_config.leg_overrides).toEqual({
      "1": { lots: 3, enabled: true }, "2": { lots: 3, enabled: true }, "3": { lots: 1, enabled: true }, "4": { lots: 1, enabled: true } });
    expect(lotsPerAccount(d)).toEqual([{ client_id: "Z1", legs: [3, 3, 1, 1], total: 8 }, { client_id: "A2", legs: [1, 1, 4, 4], total: 10 }]);
  });
  it("strategy-level allocation multiplies every leg's lots", () => {
    const d = condor();
    expect(toAllocations(d).allocations[0].allocation_config).toEqual({ type: "STRATEGY_LEVEL", strategy_lots_multiplier: 2 });
    expect(lotsPerAccount(d)[0]).toEqual({ client_id: "Z1", legs: [4, 4, 4, 4], total: 16 });
  });
  it("saves the strategy paused with the risk in rupees, activation is a separate step", () => {
    const spec = toStrategySpec({ ...condor(), mtm_stop_loss: "25000", mtm_target: "" });
    expect(spec.status).toBe("PAUSED");
    expect(spec.risk).toEqual({ mtm_stop_loss: 25000, mtm_target: null });
  });
  it("refuses an intraday exit before the entry, an empty name and no entry day", () => {
    const bad = draftSchema.safeParse({ ...condor(), is_intra_day: true, entry_time: "15:00", exit_time: "09:30", strategy_name: " ", entry_days: [] });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["strategy_name", "entry_days", "exit_time"]));
  });
});
