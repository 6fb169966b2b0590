/**
 * How the app shows numbers and times: money in rupees with Indian digit grouping (en-IN:
 * 1,23,45,678.90), times in IST (Asia/Kolkata) whatever the browser's zone, quantities as
 * lots and units.
 */
const rupees = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const plain = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 });
const istTime = new Intl.DateTimeFormat("en-IN", { timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const istDateTime = new Intl.DateTimeFormat("en-IN", { timeZone: "Asia/Kolkata", day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

/** "₹1,23,456.50"; null/undefined/"" -> "—". Accepts the API's decimal strings. */
export function formatRupees(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? rupees.format(n) : String(value);
}

export function formatNumber(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? plain.format(n) : String(value);
}

/** "09:30:00 IST" from an ISO instant (UTC on the wire). */
export function formatIstTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${istTime.format(d)} IST`;
}

export function formatIstDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${istDateTime.format(d)} IST`;
}

/** "2 lots · 150 units" (lot size known) or "2 lots". */
export function formatLots(lots: number, lotSize?: number | null): string {
  const l = `${lots} ${lots === 1 ? "lot" : "lots"}`;
  return lotSize ? `${l} · ${plain.format(lots * lotSize)} units` : l;
}

/** Milliseconds from the target instant to the send; null when either is missing. */
export function lagMs(target: string | null | undefined, sent: string | null | undefined): number | null {
  if (!target || !sent) return null;
  const a = Date.parse(target);
  const b = Date.parse(sent);
  return Number.isNaN(a) || Number.isNaN(b) ? null : b - a;
}

export function formatLag(ms: number | null): string {
  if (ms === null) return "—";
  return `${ms >= 0 ? "+" : "−"}${plain.format(Math.abs(ms))} ms`;
}
