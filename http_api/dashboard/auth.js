// The operator's session: the access token from POST /api/v1/auth/token, kept in this tab's
// sessionStorage only (closing the tab forgets it). The user name and role read from the token
// only shape the page; the server checks the token on every request.

const KEY = "voltmesh.session";

function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

/** {token, user, role, expiresAt} while logged in, else null. */
export function session() {
  let stored;
  try {
    stored = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  } catch {
    stored = null;
  }
  if (!stored?.token) return null;
  if (stored.expiresAt && Date.now() >= stored.expiresAt) {
    clearSession();
    return null;
  }
  return stored;
}

export function saveSession(token, expiresIn) {
  const claims = claimsOf(token);
  const expiresAt = claims.exp ? claims.exp * 1000 : Date.now() + expiresIn * 1000;
  const stored = { token, user: claims.sub ?? "", role: claims.role ?? "viewer", expiresAt };
  sessionStorage.setItem(KEY, JSON.stringify(stored));
  return stored;
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** Whether the role may send commands (operator or admin); the server has the last word. */
export function mayOperate() {
  const role = session()?.role;
  return role === "operator" || role === "admin";
}
