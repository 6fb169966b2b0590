import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatNumber, formatRupees } from "../lib/format";

export interface PayoffPoint { level: number; atExpiry: number; today: number }

/** P&L in rupees over the underlying's level: at expiry and today (Black-76), with the current
 * level and the breakevens marked. recharts; loaded only on the legs step (its own chunk). */
export default function PayoffChart({ data, level, breakevens }: { data: PayoffPoint[]; level?: number; breakevens: number[] }) {
  return (
    <figure className="chart" aria-label="Payoff chart">
      <figcaption>Payoff in rupees by the underlying's level (at expiry and today)</figcaption>
      <div style={{ width: "100%", height: 260 }}>
        <ResponsiveContainer>
          <LineChart data={data} margin={{ left: 20, right: 20 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="level" type="number" domain={["dataMin", "dataMax"]} tickFormatter={(v: number) => formatNumber(Math.round(v))} />
            <YAxis width={95} tickFormatter={(v: number) => formatRupees(v).replace(/\.00$/, "")} />
            <Tooltip formatter={(v) => formatRupees(Number(v))} labelFormatter={(v) => `Underlying ${formatNumber(Number(v))}`} />
            <Legend />
            <ReferenceLine y={0} stroke="#4a5360" />
            {level !== undefined && <ReferenceLine x={level} stroke="#1f5fa8" strokeDasharray="4 2" label={{ value: "now", position: "top" }} />}
            {breakevens.map((b) => <ReferenceLine key={b} x={b} stroke="#a4161a" strokeDasharray="2 2" />)}
            <Line type="linear" dataKey="atExpiry" name="At expiry" stroke="#102a43" dot={false} isAnimationActive={false} />
            <Line type="monotone" dataKey="today" name="Today" stroke="#1d6b34" dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
