// JSON calls to /api/v1 with the access token, one retry after a refresh on 401.

import { freshToken, refresh } from './session.js';

/** An API failure with the server's stable error code. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || `Request failed (${status})`);
    this.status = status;
    this.code = code || 'http_' + status;
    this.retryAfter = retryAfter;
  }
}

async function toError(resp) {
  let err = {};
  try {
    err = (await resp.json())?.error || {};
  } catch {
    // Not JSON (a proxy's page, say): the status is all we know.
  }
  const retryAfter = Number(resp.headers.get('Retry-After')) || undefined;
  return new ApiError(resp.status, err.code, err.message, retryAfter);
}

/**
 * api('/api/v1/courses') → parsed JSON; api(path, { method: 'POST', body })
 * sends JSON, or `body` as it is with a `contentType` (a file). 204 → null.
 */
export async function api(path, { method = 'GET', body, contentType, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  const token = await freshToken().catch(() => null);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined || contentType ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection.');
  }
  if (resp.status === 401 && !retried && (await refresh())) {
    return api(path, { method, body, contentType, retried: true });
  }
  if (!resp.ok) throw await toError(resp);
  if (resp.status === 204) return null;
  const type = resp.headers.get('Content-Type') || '';
  return type.includes('json') ? resp.json() : resp.text();
}

/** The message to show a person for a failed call. */
export function describe(err) {
  if (err instanceof ApiError) {
    return err.status ? `${err.message} (${err.code})` : err.message;
  }
  return String(err?.message || err);
}
