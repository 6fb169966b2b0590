import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime } from "../lib/format";
import { OrdersTable } from "./DashboardPage";

export default function HistoryPage() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const query = { ...(from ? { from_date: from } : {}), ...(to ? { to_date: to } : {}) };
  const history = useQuery({ queryKey: ["history", from, to], queryFn: async () => unwrap(await api().GET("/options/executions/history", { params: { query } })).items });
  const detail = useQuery({ queryKey: ["execution", open], enabled: !!open,
    queryFn: async () => unwrap(await api().GET("/options/executions/{execution_id}", { params: { path: { execution_id: open! } } })) });
  return (
    <>
      <h1>History</h1>
      <div className="grid card">
        <label>From (date)<input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
        <label>To (date)<input type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
      </div>
      <ErrorText error={history.error} />
      <table>
        <thead><tr><th scope="col">Date</th><th scope="col">Target (IST)</th><th scope="col">Type</th><th scope="col">Strategy</th><th scope="col">Status</th><th scope="col">Lots</th><th scope="col">Orders</th></tr></thead>
        <tbody>
          {history.data?.length === 0 && <tr><td colSpan={7}>No executions in this range.</td></tr>}
          {history.data?.map((e) => (
            <tr key={e.execution_id}>
              <td>{e.trade_date}</td><td>{formatIstDateTime(e.execute_at)}</td><td>{e.execution_type}</td><td>{e.strategy_id}</td>
              <td><span className={`status ${e.status}`}>{e.status}</span></td><td>{e.total_lots}</td>
              <td><button type="button" className="secondary" onClick={() => setOpen(e.execution_id)} aria-label={`Show orders of ${e.execution_id}`}>Orders</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && (
        <section className="card" aria-labelledby="orders-heading">
          <h2 id="orders-heading">Orders of {open}</h2>
          <ErrorText error={detail.error} />
          {detail.data && <OrdersTable orders={detail.data.orders} execution={detail.data.execution} />}
        </section>
      )}
    </>
  );
}
