import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime } from "../lib/format";

const BROKERS: Schemas["BrokerName"][] = ["paper", "zerodha", "angel", "finvasia", "zebu"];

export const linkSchema = z.object({
  broker: z.enum(["paper", "zerodha", "angel", "finvasia", "zebu"]),
  client_id: z.string().trim().min(2, "The broker's client id").max(32).regex(/^[A-Za-z0-9_-]+$/, "Letters, digits, - and _ only"),
  display_name: z.string().trim().max(64),
  api_key: z.string().optional(),
  api_secret: z.string().optional(),
  password: z.string().optional(),
  totp_secret: z.string().optional(),
});
type LinkForm = z.infer<typeof linkSchema>;

export function accountsQuery() {
  return { queryKey: ["broker-accounts"], queryFn: async () => unwrap(await api().GET("/broker-accounts")).items as Schemas["BrokerAccountView"][] };
}

export function LinkAccountForm({ onLinked }: { onLinked?: (account: Schemas["BrokerAccountView"]) => void }) {
  const client = useQueryClient();
  const { register, handleSubmit, watch, reset, formState } = useForm<LinkForm>({
    resolver: zodResolver(linkSchema),
    defaultValues: { broker: "paper", client_id: "", display_name: "" },
  });
  const broker = watch("broker");
  const link = useMutation({
    mutationFn: async (values: LinkForm) => {
      const credentials = broker === "paper" ? null : Object.fromEntries(
        (["api_key", "api_secret", "password", "totp_secret"] as const).filter((k) => values[k]).map((k) => [k, values[k]]));
      return unwrap(await api().POST("/broker-accounts", {
        body: { broker: values.broker, client_id: values.client_id, display_name: values.display_name || values.client_id, credentials, trading_mode: "PAPER" },
      }));
    },
    onSuccess: (account) => {
      reset({ broker: "paper", client_id: "", display_name: "" });
      void client.invalidateQueries({ queryKey: ["broker-accounts"] });
      onLinked?.(account);
    },
  });
  return (
    <form className="card" aria-labelledby="link-heading" onSubmit={handleSubmit((v) => link.mutate(v))} noValidate>
      <h2 id="link-heading">Link an account</h2>
      <div className="grid">
        <label>Broker
          <select {...register("broker")}>{BROKERS.map((b) => <option key={b} value={b}>{b}</option>)}</select>
        </label>
        <div className="field"><label>Client id<input {...register("client_id")} aria-invalid={!!formState.errors.client_id} /></label>{formState.errors.client_id && <span className="error">{formState.errors.client_id.message}</span>}</div>
        <label>Display name<input {...register("display_name")} /></label>
        {broker !== "paper" && (["api_key", "api_secret", "password", "totp_secret"] as const).map((k) => (
          <label key={k}>{k.replace("_", " ")}<input type="password" autoComplete="off" {...register(k)} /></label>
        ))}
      </div>
      <p className="hint">Every account starts in PAPER mode; switch to LIVE after a successful broker login.</p>
      <button type="submit" disabled={link.isPending}>Link account</button>
      <ErrorText error={link.error} />
    </form>
  );
}

/** The trader's egress group IP (what the broker must whitelist); "—" where this deployment has no per-trader egress. */
export function EgressCell({ egress }: { egress?: Schemas["EgressView"] | null }) {
  if (!egress) return <span className="hint">— (no per-trader egress here)</span>;
  if (!egress.ip) return <span className="hint">group {egress.group}: IP not assigned yet</span>;
  return (
    <span>
      <code data-testid="egress-ip">{egress.ip}</code>
      {egress.ip_since ? <small> since {formatIstDateTime(egress.ip_since)}</small> : null}
      {egress.next_change ? <small className="error"> changes {formatIstDateTime(egress.next_change)}: register the new IP before</small> : null}
    </span>
  );
}

export default function AccountsPage() {
  const accounts = useQuery(accountsQuery());
  const client = useQueryClient();
  const login = useMutation({
    mutationFn: async (clientId: string) => unwrap(await api().POST("/broker-accounts/{client_id}/login", { params: { path: { client_id: clientId } } })),
    // OAuth brokers (Kite, Noren): the broker's login page; its redirect lands on the API's
    // callback, which completes the session; TOTP brokers log in right here (LOGGED_IN)
    onSuccess: (result) => { if (result.action === "OPEN_LOGIN_URL" && result.login_url) window.location.assign(result.login_url); },
    onSettled: () => client.invalidateQueries({ queryKey: ["broker-accounts"] }),
  });
  return (
    <>
      <h1>Broker accounts</h1>
      <ErrorText error={accounts.error} />
      <table>
        <caption className="sr-only">Your broker accounts</caption>
        <thead><tr><th scope="col">Client id</th><th scope="col">Broker</th><th scope="col">Name</th><th scope="col">Mode</th><th scope="col">Session</th><th scope="col">Valid until</th><th scope="col">Egress IP to register</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          {accounts.data?.length === 0 && <tr><td colSpan={8}>No accounts linked yet.</td></tr>}
          {accounts.data?.map((a) => (
            <tr key={a.client_id}>
              <td>{a.client_id}</td><td>{a.broker}</td><td>{a.display_name}</td><td>{a.trading_mode}</td>
              <td>{a.session.status}{a.session.valid_now ? " (valid now)" : ""}</td>
              <td>{formatIstDateTime(a.session.valid_until)}</td>
              <td><EgressCell egress={a.egress} /></td>
              <td>{a.login_method !== "NONE" && <button type="button" className="secondary" onClick={() => login.mutate(a.client_id)}>Log in to {a.broker}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorText error={login.error} />
      <p className="hint">SEBI's retail-algo framework (in force from 1 April 2026) has brokers accept API orders only from a static IP registered per API key, changeable at most once a week: register the egress IP shown with each broker (Kite: developer console → your app → IP whitelist) before trading LIVE. Every order of your accounts leaves from that address.</p>
      <LinkAccountForm />
    </>
  );
}
