/**
 * Sign-in against Cognito with the USER_PASSWORD_AUTH flow of InitiateAuth: one unsigned JSON
 * POST to the user pool's IDP endpoint (cognito-idp.<region>.amazonaws.com in AWS; the moto server
 * of the local platform, which answers CORS, locally). The ID token is what the API's Cognito
 * authorizer (and the local API server) verifies; it is kept in sessionStorage for the tab.
 */
import { config } from "./config";

const KEY = "ql.session";

export interface Session {
  idToken: string;
  accessToken: string;
  email: string;
  /** epoch seconds */
  expiresAt: number;
}

export class AuthError extends Error {}

/** Cognito asked for the code of the trader's authenticator app (SOFTWARE_TOKEN_MFA): `respond`
 * sends it (RespondToAuthChallenge) and resolves with the session. */
export class MfaRequired extends Error {
  constructor(public respond: (code: string) => Promise<Session>) {
    super("Enter the 6-digit code from your authenticator app");
  }
}

async function idp<T>(target: string, payload: unknown, fetcher: typeof fetch): Promise<{ ok: boolean; status: number; body: T }> {
  const response = await fetcher(config().cognito.endpoint.replace(/\/?$/, "/"), {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}` },
    body: JSON.stringify(payload),
  });
  return { ok: response.ok, status: response.status, body: (await response.json().catch(() => ({}))) as T };
}

interface AuthAnswer {
  AuthenticationResult?: { IdToken: string; AccessToken: string };
  ChallengeName?: string;
  Session?: string;
  message?: string;
  __type?: string;
}

function decodeClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json) as Record<string, unknown>;
}

function toSession(idToken: string, accessToken: string, username: string): Session {
  const claims = decodeClaims(idToken);
  const session: Session = {
    idToken, accessToken,
    email: String(claims.email ?? claims["cognito:username"] ?? username),
    expiresAt: Number(claims.exp ?? 0),
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** Tokens stay in this tab's session (ours), never in the library's localStorage. */
class MemoryStorage {
  private data = new Map<string, string>();
  setItem(key: string, value: string) { this.data.set(key, value); }
  getItem(key: string) { return this.data.get(key) ?? null; }
  removeItem(key: string) { this.data.delete(key); }
  clear() { this.data.clear(); }
}

/** Cognito's USER_SRP_AUTH (the password never leaves the browser; InitiateAuth with SRP_A, then
 * RespondToAuthChallenge PASSWORD_VERIFIER with the claim signature) by AWS's own
 * amazon-cognito-identity-js, loaded only when a deployment asks for it. */
export async function signInSrp(username: string, password: string): Promise<Session> {
  const { endpoint, clientId, userPoolId } = config().cognito;
  if (!userPoolId) throw new AuthError("config.json: cognito.userPoolId is needed for USER_SRP_AUTH");
  const { AuthenticationDetails, CognitoUser, CognitoUserPool } = await import("amazon-cognito-identity-js");
  const storage = new MemoryStorage();
  const pool = new CognitoUserPool({ UserPoolId: userPoolId, ClientId: clientId, endpoint: endpoint.replace(/\/?$/, "/"), Storage: storage });
  const user = new CognitoUser({ Username: username, Pool: pool, Storage: storage });
  user.setAuthenticationFlowType("USER_SRP_AUTH");
  return new Promise<Session>((resolve, reject) => {
    const challenge = (name: string) => () => reject(new AuthError(`Cognito asks for ${name}; complete it in the hosted UI`));
    user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), {
      onSuccess: (s) => resolve(toSession(s.getIdToken().getJwtToken(), s.getAccessToken().getJwtToken(), username)),
      onFailure: (e: { message?: string; code?: string }) => reject(new AuthError(e.message || e.code || "sign-in failed")),
      newPasswordRequired: challenge("NEW_PASSWORD_REQUIRED"),
      mfaRequired: challenge("SMS_MFA"),
      totpRequired: () => reject(new MfaRequired((code) => new Promise<Session>((ok, fail) => user.sendMFACode(code, {
        onSuccess: (s) => ok(toSession(s.getIdToken().getJwtToken(), s.getAccessToken().getJwtToken(), username)),
        onFailure: (e: { message?: string; code?: string }) => fail(new AuthError(e.message || e.code || "the code was refused")),
      }, "SOFTWARE_TOKEN_MFA")))),
      mfaSetup: challenge("MFA_SETUP"),
      selectMFAType: challenge("SELECT_MFA_TYPE"),
      customChallenge: challenge("CUSTOM_CHALLENGE"),
    });
  });
}

export async function signIn(username: string, password: string, fetcher: typeof fetch = fetch): Promise<Session> {
  if (config().cognito.authFlow === "USER_SRP_AUTH") return signInSrp(username, password);
  const { clientId } = config().cognito;
  const { ok, status, body } = await idp<AuthAnswer>("InitiateAuth",
    { AuthFlow: "USER_PASSWORD_AUTH", ClientId: clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }, fetcher);
  return finish(ok, status, body, username, fetcher);
}

function finish(ok: boolean, status: number, body: AuthAnswer, username: string, fetcher: typeof fetch): Session {
  if (ok && body.AuthenticationResult) return toSession(body.AuthenticationResult.IdToken, body.AuthenticationResult.AccessToken, username);
  if (ok && body.ChallengeName === "SOFTWARE_TOKEN_MFA" && body.Session) {
    const session = body.Session;
    throw new MfaRequired(async (code) => {
      const answer = await idp<AuthAnswer>("RespondToAuthChallenge", {
        ChallengeName: "SOFTWARE_TOKEN_MFA", ClientId: config().cognito.clientId, Session: session,
        ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code.trim() },
      }, fetcher);
      if (answer.ok && answer.body.ChallengeName) throw new AuthError(`Cognito asks for ${answer.body.ChallengeName} next; complete it in the hosted UI`);
      return finish(answer.ok, answer.status, answer.body, username, fetcher);
    });
  }
  if (body.ChallengeName) throw new AuthError(`Cognito asks for ${body.ChallengeName}; complete it in the hosted UI`);
  throw new AuthError(body.message || body.__type || `sign-in failed (HTTP ${status})`);
}

export interface MfaState {
  preferred: string | null;
  enabled: string[];
}

/** The signed-in user's MFA settings, from Cognito's GetUser (authorised by the access token). */
export async function mfaState(session: Session, fetcher: typeof fetch = fetch): Promise<MfaState> {
  const response = await fetcher(config().cognito.endpoint.replace(/\/?$/, "/"), {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser" },
    body: JSON.stringify({ AccessToken: session.accessToken }),
  });
  const body = (await response.json().catch(() => ({}))) as { PreferredMfaSetting?: string; UserMFASettingList?: string[]; message?: string };
  if (!response.ok) throw new AuthError(body.message || `GetUser failed (HTTP ${response.status})`);
  return { preferred: body.PreferredMfaSetting ?? null, enabled: body.UserMFASettingList ?? [] };
}

export function currentSession(nowSeconds = Date.now() / 1000): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  const session = JSON.parse(raw) as Session;
  if (session.expiresAt && session.expiresAt < nowSeconds) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}
