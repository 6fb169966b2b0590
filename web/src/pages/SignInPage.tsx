import { useState } from "react";
import { useForm } from "react-hook-form";
import { zodResolver } from "@hookform/resolvers/zod";
import { z } from "zod";
import { useNavigate } from "react-router";
import { MfaRequired, signIn } from "../lib/auth";
import { config } from "../lib/config";

const schema = z.object({
  username: z.string().email("Enter the e-mail you registered with"),
  password: z.string().min(8, "At least 8 characters"),
});
type Form = z.infer<typeof schema>;

export function SignInPage() {
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [mfa, setMfa] = useState<MfaRequired | null>(null);
  const [code, setCode] = useState("");
  const [sending, setSending] = useState(false);
  const demo = config().demoUser;
  const { register, handleSubmit, formState } = useForm<Form>({
    resolver: zodResolver(schema),
    defaultValues: { username: demo?.username ?? "", password: "" },
  });
  const onSubmit = handleSubmit(async (values) => {
    setError(null);
    try {
      await signIn(values.username, values.password);
      navigate("/");
    } catch (e) {
      if (e instanceof MfaRequired) setMfa(e);
      else setError((e as Error).message);
    }
  });
  async function sendCode(e: React.FormEvent) {
    e.preventDefault();
    if (!mfa) return;
    if (!/^\d{6}$/.test(code.trim())) { setError("The code is 6 digits"); return; }
    setError(null);
    setSending(true);
    try {
      await mfa.respond(code);
      navigate("/");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  }
  if (mfa) {
    return (
      <main id="main" className="signin">
        <h1>Sign in</h1>
        <form onSubmit={sendCode} noValidate>
          <label htmlFor="mfa-code">Code from your authenticator app</label>
          <input id="mfa-code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onChange={(e) => setCode(e.target.value)} />
          <button type="submit" disabled={sending}>{sending ? "Checking…" : "Verify"}</button>
          <button type="button" className="secondary" onClick={() => { setMfa(null); setCode(""); setError(null); }}>Start again</button>
          {error && <p role="alert" className="error">{error}</p>}
        </form>
      </main>
    );
  }
  return (
    <main id="main" className="signin">
      <h1>Sign in</h1>
      <form onSubmit={onSubmit} noValidate>
        <label htmlFor="username">E-mail</label>
        <input id="username" type="email" autoComplete="username" {...register("username")} aria-invalid={!!formState.errors.username} />
        {formState.errors.username && <p className="error">{formState.errors.username.message}</p>}
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" {...register("password")} aria-invalid={!!formState.errors.password} />
        {formState.errors.password && <p className="error">{formState.errors.password.message}</p>}
        <button type="submit" disabled={formState.isSubmitting}>{formState.isSubmitting ? "Signing in…" : "Sign in"}</button>
        {error && <p role="alert" className="error">{error}</p>}
      </form>
      {demo && <p className="hint">Local platform: sign in as <code>{demo.username}</code> with the password <code>{demo.password}</code> that <code>./deploy.sh -e local</code> printed.</p>}
    </main>
  );
}
