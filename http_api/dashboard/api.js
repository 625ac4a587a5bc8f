// The REST client: every request carries the operator's bearer token; a 401 ends the session.

import { clearSession, saveSession, session } from "./auth.js";

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    const detail = problem?.detail ?? problem?.title ?? `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

let whenUnauthorized = () => {};

/** What to do when the server no longer accepts the token (expired, user deleted). */
export function onUnauthorized(callback) {
  whenUnauthorized = callback;
}

export function sessionEnded() {
  clearSession();
  whenUnauthorized();
}

export function apiUrl(path, query = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

async function bodyOf(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

export async function api(path, { method = "GET", body, query, signal } = {}) {
  const current = session();
  if (!current) {
    sessionEnded();
    throw new ApiError(401, { detail: "not logged in" });
  }
  const headers = { Authorization: `Bearer ${current.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(apiUrl(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
  const data = await bodyOf(response);
  if (response.status === 401) {
    sessionEnded();
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Every item of a list, following its cursor (at most `max` items). */
export async function listAll(path, query = {}, max = 20000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: 1000, cursor } });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor && items.length < max);
  return items;
}

export async function login(username, password) {
  const response = await fetch(apiUrl("/api/v1/auth/token"), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ username, password }),
    cache: "no-store",
  });
  const data = await bodyOf(response);
  if (!response.ok) {
    throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  }
  return saveSession(data.access_token, data.expires_in);
}

export function sendCommand(stationId, action, payload) {
  return api(`/api/v1/stations/${encodeURIComponent(stationId)}/commands/${action}`, {
    method: "POST",
    body: payload,
  });
}
