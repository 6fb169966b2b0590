/**
 * The typed REST client: paths, bodies and answers come from `schema.d.ts`, generated from
 * docs/openapi.json by openapi-typescript, so a changed route fails `npm run typecheck`.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { config } from "../lib/config";
import { currentSession, signOut } from "../lib/auth";

export type Schemas = components["schemas"];

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const session = currentSession();
    if (session) request.headers.set("Authorization", `Bearer ${session.idToken}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) {
      signOut();
      if (!location.pathname.endsWith("/signin")) location.assign(`${import.meta.env.BASE_URL}signin`);
    }
    return response;
  },
};

let instance: ReturnType<typeof createClient<paths>> | null = null;

export function api() {
  if (!instance) {
    instance = createClient<paths>({ baseUrl: config().apiUrl, fetch: (request) => globalThis.fetch(request) });
    instance.use(auth);
  }
  return instance;
}

/** Throws ApiError with the API's message (ErrorBody) when the call failed. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const error = result.error as { message?: string; detail?: unknown } | undefined;
    const detail = error?.detail ? `: ${JSON.stringify(error.detail)}` : "";
    throw new ApiError(result.response.status, `${error?.message ?? `HTTP ${result.response.status}`}${detail}`);
  }
  return result.data;
}
