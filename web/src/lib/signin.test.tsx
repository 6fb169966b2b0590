import { describe, expect, it, vi, beforeEach } from "vitest";
import { setConfig } from "./config";
import { currentSession, signIn } from "./auth";

function jwt(claims: object) {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

beforeEach(() => vi.unstubAllGlobals());

describe("sign-in with USER_SRP_AUTH (the deployed app client allows only SRP)", () => {
  it("sends SRP_A, answers PASSWORD_VERIFIER with a claim signature, never the password, and keeps the tokens in this tab only", async () => {
    setConfig({ apiUrl: "", cognito: { endpoint: "https://cognito-idp.ap-south-1.amazonaws.com/", clientId: "client-1", region: "ap-south-1",
      userPoolId: "ap-south-1_AbCdEf123", authFlow: "USER_SRP_AUTH" } });
    const token = jwt({ email: "t@x.in", exp: Math.floor(Date.now() / 1000) + 3600 });
    const calls: { target: string; body: Record<string, any> }[] = [];
    vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit) => {
      const target = String((init.headers as Record<string, string>)["X-Amz-Target"]);
      const body = JSON.parse(String(init.body));
      calls.push({ target, body });
      expect(url).toBe("https://cognito-idp.ap-south-1.amazonaws.com/");
      const answer = target.endsWith("InitiateAuth")
        ? { ChallengeName: "PASSWORD_VERIFIER", Session: "s1", ChallengeParameters: {
            SALT: "8f1c3a5b7d9e", SRP_B: "ab".repeat(192), USERNAME: "user-sub-1", USER_ID_FOR_SRP: "user-sub-1", SECRET_BLOCK: "c2VjcmV0" } }
        : { AuthenticationResult: { IdToken: token, AccessToken: jwt({ exp: 1 }), RefreshToken: "r" }, ChallengeParameters: {} };
      return new Response(JSON.stringify(answer), { status: 200, headers: { "Content-Type": "application/x-amz-json-1.1" } });
    }));
    const session = await signIn("t@x.in", "Local-Passw0rd!");
    expect(session.idToken).toBe(token);
    expect(currentSession()?.email).toBe("t@x.in");
    expect(calls.map((c) => c.target)).toEqual(["AWSCognitoIdentityProviderService.InitiateAuth", "AWSCognitoIdentityProviderService.RespondToAuthChallenge"]);
    expect(calls[0].body).toMatchObject({ AuthFlow: "USER_SRP_AUTH", ClientId: "client-1", AuthParameters: { USERNAME: "t@x.in" } });
    expect(calls[0].body.AuthParameters.SRP_A).toMatch(/^[0-9a-f]{256,}$/);
    expect(calls[1].body).toMatchObject({ ChallengeName: "PASSWORD_VERIFIER", ClientId: "client-1",
      ChallengeResponses: { USERNAME: "user-sub-1", PASSWORD_CLAIM_SECRET_BLOCK: "c2VjcmV0" } });
    expect(calls[1].body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.stringify(calls)).not.toContain("Local-Passw0rd!");
    expect(Object.keys(localStorage)).toEqual([]); // the library's token cache is kept in memory
  });
});

describe("sign-in with an authenticator app (SOFTWARE_TOKEN_MFA)", () => {
  it("asks for the code after the password and answers Cognito's challenge with it", async () => {
    const { render, screen } = await import("@testing-library/react");
    const userEvent = (await import("@testing-library/user-event")).default;
    const { MemoryRouter } = await import("react-router");
    const { SignInPage } = await import("../pages/SignInPage");
    setConfig({ apiUrl: "", cognito: { endpoint: "http://idp.test", clientId: "client-1", region: "ap-south-1" } });
    const token = jwt({ email: "t@x.in", exp: Math.floor(Date.now() / 1000) + 3600 });
    const calls: { target: string; body: Record<string, any> }[] = [];
    vi.stubGlobal("fetch", vi.fn(async (_url: string, init: RequestInit) => {
      const target = String((init.headers as Record<string, string>)["X-Amz-Target"]).split(".")[1];
      const body = JSON.parse(String(init.body));
      calls.push({ target, body });
      const answer = target === "InitiateAuth"
        ? { ChallengeName: "SOFTWARE_TOKEN_MFA", Session: "sess-1", ChallengeParameters: {} }
        : body.ChallengeResponses.SOFTWARE_TOKEN_MFA_CODE === "654321"
          ? { AuthenticationResult: { IdToken: token, AccessToken: "a" } }
          : { __type: "CodeMismatchException", message: "Invalid code received for user" };
      return new Response(JSON.stringify(answer), { status: "AuthenticationResult" in answer || "ChallengeName" in answer ? 200 : 400 });
    }));
    render(<MemoryRouter><SignInPage /></MemoryRouter>);
    await userEvent.type(screen.getByLabelText("E-mail"), "t@x.in");
    await userEvent.type(screen.getByLabelText("Password"), "Local-Passw0rd!");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const field = await screen.findByLabelText("Code from your authenticator app");
    expect(currentSession()).toBeNull();
    await userEvent.type(field, "111111");
    await userEvent.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Invalid code received for user");
    await userEvent.clear(field);
    await userEvent.type(field, "654321");
    await userEvent.click(screen.getByRole("button", { name: "Verify" }));
    await vi.waitFor(() => expect(currentSession()?.idToken).toBe(token));
    expect(calls.map((c) => c.target)).toEqual(["InitiateAuth", "RespondToAuthChallenge", "RespondToAuthChallenge"]);
    expect(calls[2].body).toEqual({ ChallengeName: "SOFTWARE_TOKEN_MFA", ClientId: "client-1", Session: "sess-1",
      ChallengeResponses: { USERNAME: "t@x.in", SOFTWARE_TOKEN_MFA_CODE: "654321" } });
  });
});
