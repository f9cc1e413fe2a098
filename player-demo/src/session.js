// Who is signed in, and their access token.
//
// The access token lives in this module's memory only (never localStorage):
// a script injected into the page could read storage, and a reload simply
// asks /auth/refresh, whose HttpOnly cookie no script can read. Refreshes are
// single-flight, and serialized across tabs with the Web Locks API, because
// the server rotates the refresh cookie and treats a reused one as theft.

const REFRESH_LOCK = 'sealcast-refresh';

let accessToken = null;
let expiresAt = 0; // ms since epoch
let lifetime = 0; // ms, as granted
let currentUser = null;
let refreshTimer = null;
let inFlight = null;
const listeners = new Set();

/** Called with (user, reason) whenever sign-in state changes; reason is
 * 'logout' or 'refused' when signed out. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function user() {
  return currentUser;
}

/** The current token, possibly close to expiry; see freshToken(). */
export function token() {
  return accessToken;
}

/** A token valid for at least `minValidityMs`, refreshing first if needed. */
export async function freshToken(minValidityMs = 15000) {
  // Never demand more than a quarter of the granted lifetime, or a server
  // with short-lived tokens would be asked for a new one on every call.
  const margin = Math.min(minValidityMs, lifetime / 4);
  if (accessToken && expiresAt - Date.now() > margin) return accessToken;
  await refresh();
  return accessToken;
}

function adopt(data) {
  const changed = !currentUser || currentUser.id !== data.user.id;
  accessToken = data.access_token;
  currentUser = data.user;
  const lifetimeMs = Math.max(10, Number(data.expires_in) || 300) * 1000;
  expiresAt = Date.now() + lifetimeMs;
  lifetime = lifetimeMs;
  clearTimeout(refreshTimer);
  // Refresh at three quarters of the lifetime so no request, key fetch or
  // upload chunk ever carries an expired token.
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {});
  }, Math.max(5000, lifetimeMs * 0.75));
  if (changed) listeners.forEach((fn) => fn(currentUser));
}

function forget(reason) {
  const had = currentUser !== null;
  accessToken = null;
  currentUser = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
  if (had) listeners.forEach((fn) => fn(null, reason));
}

async function readError(resp) {
  try {
    const body = await resp.json();
    return body?.error || {};
  } catch {
    return {};
  }
}

/** Signs in; throws an Error whose `code` is the server's error code. */
export async function login(email, password) {
  const resp = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ email, password }),
  });
  if (!resp.ok) {
    const err = await readError(resp);
    const e = new Error(
      err.code === 'invalid_credentials'
        ? 'Wrong email or password.'
        : resp.status === 429
          ? `Too many attempts; try again in ${resp.headers.get('Retry-After') || 'a few'} seconds.`
          : err.message || `Sign-in failed (${resp.status}).`,
    );
    e.code = err.code;
    e.status = resp.status;
    throw e;
  }
  adopt(await resp.json());
  return currentUser;
}

/**
 * Trades the refresh cookie for a new access token. Resolves true when
 * signed in afterwards; false (and signed out) when the cookie is gone,
 * expired or revoked.
 */
export function refresh() {
  if (!inFlight) {
    inFlight = withLock(doRefresh).finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

async function withLock(fn) {
  if (navigator.locks?.request) return navigator.locks.request(REFRESH_LOCK, fn);
  return fn();
}

async function doRefresh() {
  let resp;
  try {
    resp = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
  } catch {
    // Offline: keep the current token until it expires; retry soon.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), 5000);
    return Boolean(accessToken && expiresAt > Date.now());
  }
  if (resp.ok) {
    adopt(await resp.json());
    return true;
  }
  forget('refused');
  return false;
}

/** Ends the refresh family on the server and forgets the token here. */
export async function logout() {
  try {
    await fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' });
  } finally {
    forget('logout');
  }
}
