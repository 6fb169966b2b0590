import { Suspense } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { currentSession, signOut } from "../lib/auth";

const LINKS = [
  ["/", "Today"],
  ["/strategies", "Baskets & strategies"],
  ["/accounts", "Broker accounts"],
  ["/history", "History"],
  ["/marketplace", "Marketplace"],
  ["/profile", "Profile"],
] as const;

export function Layout() {
  const navigate = useNavigate();
  const session = currentSession();
  return (
    <>
      <header className="topbar">
        <span className="brand">QuantLeap Options</span>
        <nav aria-label="Main">
          <ul>
            {LINKS.map(([to, label]) => (
              <li key={to}><NavLink to={to} end={to === "/"}>{label}</NavLink></li>
            ))}
          </ul>
        </nav>
        <span className="who">{session?.email}</span>
        <button type="button" className="secondary" onClick={() => { signOut(); navigate("/signin"); }}>Sign out</button>
      </header>
      <main id="main">
        <Suspense fallback={<p className="loading">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return <p role="alert" className="error">{error instanceof Error ? error.message : String(error)}</p>;
}
