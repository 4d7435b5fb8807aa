// The app API (docs/app-api.md): JSON in and out, RFC 9457 problems as ApiError. Only two
// bearer tokens exist, the activation token and the app session token, never both at once.

const PREFIX = "/app-api/v1";

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "error";
    this.detail = problem.detail || problem.title || "";
    this.nextStep = problem.next_step || "";
    this.title = problem.title || "";
    this.errors = problem.errors || [];
    this.problem = problem; // the other members: reason, retry_after, tries_left, origin…
    this.retryAfter = retryAfter || Number(problem.retry_after) || null;
  }
}

export class NetworkError extends Error {}

// The server's clock, as its answers' Date headers tell it: how far ahead of this phone's
// clock it is. Expiry times come from the server, so what is left of them is counted by its
// clock, not by a phone whose clock is wrong. The header has whole seconds: a gap under two
// seconds is that rounding, not a wrong clock.
let serverOffset = 0;

export function serverNow() {
  return Date.now() + serverOffset;
}

export function noteServerDate(header) {
  const server = Date.parse(header || "");
  if (Number.isNaN(server)) return;
  const gap = server - Date.now();
  serverOffset = Math.abs(gap) < 2000 ? 0 : gap;
}

export async function call(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(PREFIX + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  noteServerDate(response.headers.get("Date"));
  if (response.status === 204) return {};
  const text = await response.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { detail: text };
  }
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, data, retry);
  }
  return data;
}
