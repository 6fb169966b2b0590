import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/** Each order's lag from the target second, in ms (recharts, loaded only when there are orders). */
export default function LagChart({ data }: { data: { label: string; lag: number }[] }) {
  return (
    <figure className="chart">
      <figcaption>Send lag from the target second (ms)</figcaption>
      <div style={{ width: "100%", height: 220 }}>
        <ResponsiveContainer>
          <BarChart data={data}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="label" hide />
            <YAxis unit=" ms" width={70} />
            <Tooltip />
            <Bar dataKey="lag" fill="#1f5fa8" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
