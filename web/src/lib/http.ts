/**
 * Authorised calls the typed client cannot make:
 * `downloadCsv`: the reports routes answer text/csv when asked with `Accept: text/csv`
 *   (openapi-fetch parses JSON); the file is handed to the browser as a download.
 * `sendJson`: a list of requests computed at run time (the builder's edit plan: a PUT, POST or
 *   DELETE per leg and per allocation), each on a route of docs/openapi.json.
 *
 * Errors: ApiError with the API's `message` (ErrorBody) and the HTTP status.
 */
import { ApiError } from "../api/client";
import { currentSession } from "./auth";
import { config } from "./config";

function headers(accept: string): Headers {
  const h = new Headers({ Accept: accept });
  const session = currentSession();
  if (session) h.set("Authorization", `Bearer ${session.idToken}`);
  return h;
}

async function fail(response: Response): Promise<never> {
  const body = (await response.json().catch(() => ({}))) as { message?: string; detail?: unknown };
  const detail = body.detail ? `: ${JSON.stringify(body.detail)}` : "";
  throw new ApiError(response.status, `${body.message ?? `HTTP ${response.status}`}${detail}`);
}

/** `method` `path` (API-relative) with a JSON body; the answer's JSON (ApiError when refused). */
export async function sendJson<T = unknown>(method: "PUT" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const h = headers("application/json");
  if (body !== undefined) h.set("Content-Type", "application/json");
  const response = await fetch(`${config().apiUrl}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) await fail(response);
  return (await response.json().catch(() => ({}))) as T;
}

/** GET `path` with Accept: text/csv; the CSV text (throws ApiError when refused or not CSV). */
export async function fetchCsv(path: string): Promise<string> {
  const response = await fetch(`${config().apiUrl}${path}`, { headers: headers("text/csv") });
  if (!response.ok) await fail(response);
  const type = response.headers.get("Content-Type") ?? "";
  if (!type.includes("text/csv")) throw new ApiError(response.status, `expected text/csv, the API answered ${type || "no content type"}`);
  return response.text();
}

/** Fetches the CSV and saves it as `filename` (an object URL on a temporary link). */
export async function downloadCsv(path: string, filename: string): Promise<string> {
  const text = await fetchCsv(path);
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  return text;
}
