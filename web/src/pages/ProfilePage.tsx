import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { currentSession } from "../lib/auth";
import { ErrorText } from "../components/Layout";
import { formatIstDateTime } from "../lib/format";

export default function ProfilePage() {
  const profile = useQuery({ queryKey: ["profile"], queryFn: async () => unwrap(await api().GET("/profile")) });
  const session = currentSession();
  return (
    <>
      <h1>Profile</h1>
      <ErrorText error={profile.error} />
      <dl className="card">
        <dt>E-mail</dt><dd>{profile.data?.email ?? session?.email}</dd>
        <dt>Name</dt><dd>{profile.data?.name ?? "—"}</dd>
        <dt>Phone</dt><dd>{profile.data?.phone_number ?? "—"}</dd>
        <dt>MFA</dt><dd>{session?.mfa}</dd>
        <dt>Session expires</dt><dd>{session ? formatIstDateTime(new Date(session.expiresAt * 1000).toISOString()) : "—"}</dd>
      </dl>
    </>
  );
}
