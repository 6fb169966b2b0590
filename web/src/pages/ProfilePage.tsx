import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { currentSession, mfaState } from "../lib/auth";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime } from "../lib/format";

export default function ProfilePage() {
  const profile = useQuery({ queryKey: ["profile"], queryFn: async () => unwrap(await api().GET("/profile")) });
  const session = currentSession();
  const mfa = useQuery({ queryKey: ["mfa"], enabled: !!session, queryFn: () => mfaState(session!) });
  return (
    <>
      <h1>Profile</h1>
      <ErrorText error={profile.error} />
      <dl className="card">
        <dt>E-mail</dt><dd>{profile.data?.email ?? session?.email}</dd>
        <dt>Name</dt><dd>{profile.data?.name ?? "—"}</dd>
        <dt>Phone</dt><dd>{profile.data?.phone_number ?? "—"}</dd>
        <dt>MFA</dt><dd>{mfa.error ? `unknown (${(mfa.error as Error).message})`
          : !mfa.data ? "…" : mfa.data.enabled.length === 0 ? "off" : `on: ${mfa.data.enabled.join(", ")}${mfa.data.preferred ? ` (preferred ${mfa.data.preferred})` : ""}`}</dd>
        <dt>Session expires</dt><dd>{session ? formatIstDateTime(new Date(session.expiresAt * 1000).toISOString()) : "—"}</dd>
      </dl>
    </>
  );
}
