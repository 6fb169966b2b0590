import { Bar, BarChart, CartesianGrid, Legend, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatRupees } from "../lib/format";

export interface PnlBar { label: string; gross: number; charges: number; net: number }

/** Gross, charges and net P&L in rupees per day, strategy or account (recharts; its own chunk,
 * loaded only when the History page has P&L to draw). */
export default function PnlChart({ data, caption }: { data: PnlBar[]; caption: string }) {
  return (
    <figure className="chart" aria-label={caption}>
      <figcaption>{caption}</figcaption>
      <div style={{ width: "100%", height: 240 }}>
        <ResponsiveContainer>
          <BarChart data={data} margin={{ left: 20, right: 10 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="label" />
            <YAxis width={95} tickFormatter={(v: number) => formatRupees(v).replace(/\.00$/, "")} />
            <Tooltip formatter={(v) => formatRupees(Number(v))} />
            <Legend />
            <ReferenceLine y={0} stroke="#4a5360" />
            <Bar dataKey="gross" name="Gross" fill="#1f5fa8" isAnimationActive={false} />
            <Bar dataKey="charges" name="Charges" fill="#b35c00" isAnimationActive={false} />
            <Bar dataKey="net" name="Net of charges" fill="#1d6b34" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
