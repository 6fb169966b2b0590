import { describe, expect, it } from "vitest";
import { formatIstDateTime, formatIstTime, formatLag, formatLots, formatRupees, lagMs } from "./format";

describe("format", () => {
  it("shows rupees with Indian digit grouping", () => {
    expect(formatRupees("12345678.5")).toBe("₹1,23,45,678.50");
    expect(formatRupees(-500000)).toBe("-₹5,00,000.00");
    expect(formatRupees(null)).toBe("—");
  });
  it("shows UTC instants in IST whatever the browser zone", () => {
    expect(formatIstTime("2026-08-17T04:00:00.250Z")).toBe("09:30:00 IST");
    expect(formatIstDateTime("2026-08-17T09:50:00+00:00")).toMatch(/17 Aug 2026.*15:20:00 IST/);
  });
  it("shows quantities as lots and units", () => {
    expect(formatLots(3, 65)).toBe("3 lots · 195 units");
    expect(formatLots(1, 1800)).toBe("1 lot · 1,800 units");
    expect(formatLots(2)).toBe("2 lots");
  });
  it("measures the lag of a send from its target second", () => {
    expect(lagMs("2026-08-17T04:00:00Z", "2026-08-17T04:00:00.042Z")).toBe(42);
    expect(formatLag(42)).toBe("+42 ms");
    expect(formatLag(-3)).toBe("−3 ms");
    expect(formatLag(lagMs(null, "2026-08-17T04:00:00Z"))).toBe("—");
  });
});
