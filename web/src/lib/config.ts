/**
 * Runtime configuration, fetched once from `config.json` beside index.html (the local platform
 * writes it from its runtime; the deployed stack will write it at deploy time), so one build
 * serves every environment.
 */
export interface AppConfig {
  /** Base URL of the REST API ("" = same origin). */
  apiUrl: string;
  /** Cognito user pool: the IDP endpoint (moto's locally) and the app client. `authFlow`
   * USER_SRP_AUTH (the deployed app client allows only SRP) needs `userPoolId`; the default,
   * USER_PASSWORD_AUTH, is the local pool's. */
  cognito: { endpoint: string; clientId: string; region: string; userPoolId?: string; authFlow?: "USER_PASSWORD_AUTH" | "USER_SRP_AUTH" };
  /** Only locally: the demo user to prefill the sign-in form with. */
  demoUser?: { username: string; password: string } | null;
  environment?: string;
}

let current: AppConfig | null = null;

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<AppConfig> {
  const response = await fetcher(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  current = (await response.json()) as AppConfig;
  return current;
}

export function setConfig(config: AppConfig): void {
  current = config;
}

export function config(): AppConfig {
  if (!current) throw new Error("config not loaded");
  return current;
}
