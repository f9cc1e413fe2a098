// Sign-in state in the browser: the access token only in memory, refreshed
// in the background before it expires (30 s tokens here), a reload restored
// from the HttpOnly cookie, and a logout that sticks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, useKit } from './helpers.js';

const TTL = 30;
const kit = useKit('session', { env: { SEALCAST_ACCESS_TOKEN_TTL_SECS: String(TTL) } });

test('tokens stay in memory, refresh in the background, survive a reload, end at logout', { timeout: 120000 }, async () => {
  const context = await kit.context();
  const page = await context.newPage();
  const refreshes = [];
  page.on('response', (resp) => {
    if (new URL(resp.url()).pathname === '/api/v1/auth/refresh') refreshes.push({ at: Date.now(), status: resp.status() });
  });
  const loginResponse = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
  await kit.login(page, 'admin');
  const login = await (await loginResponse).json();
  const loggedInAt = Date.now();
  assert.equal(login.expires_in, TTL);

  // Nothing a script can read holds a credential.
  const readable = await page.evaluate(() => ({
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    cookie: document.cookie,
  }));
  assert.ok(!readable.storage.includes(login.access_token), 'no access token in web storage');
  assert.ok(!readable.cookie.includes('sealcast_refresh'), 'the refresh cookie is HttpOnly');

  // A refresh happens on its own before the token expires.
  const deadline = loggedInAt + TTL * 1000;
  while (!refreshes.some((r) => r.at > loggedInAt && r.status === 200) && Date.now() < deadline) await sleep(250);
  const background = refreshes.find((r) => r.at > loggedInAt && r.status === 200);
  assert.ok(background, `a background refresh before expiry: ${JSON.stringify(refreshes)}`);
  assert.ok(background.at < deadline, 'refreshed before the first token expired');

  // After the first token has expired, the page still works, on a new token.
  await sleep(Math.max(0, deadline + 1500 - Date.now()));
  const mark = context.requests.length;
  await page.getByTestId('reload-audit').click();
  await page.locator('[data-testid=audit-row]').first().waitFor();
  const later = context.requests.slice(mark).filter((r) => r.headers.authorization);
  assert.ok(later.length >= 1);
  assert.ok(later.every((r) => r.headers.authorization !== `Bearer ${login.access_token}`), 'a fresh token is used');
  assert.equal(await page.getByTestId('users-error').isVisible(), false);

  // A reload restores the session from the cookie alone.
  await page.reload();
  await page.getByTestId('whoami').waitFor();
  assert.match(await page.getByTestId('whoami').textContent(), /admin@session\.test/);

  // Logging out ends the refresh family: a reload stays logged out.
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  await page.reload();
  await page.getByTestId('login-form').waitFor();
  assert.equal(await page.getByTestId('whoami').count(), 0);
  await context.close();
});
