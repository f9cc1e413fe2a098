// Sign-in state in the browser: the access token only in memory, refreshed
// in the background before it expires (30 s tokens here), a reload restored
// from the HttpOnly cookie, and a logout that sticks. The page's clock is
// playwright's, so the test moves it past the refresh and the expiry instead
// of waiting for them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useKit } from './helpers.js';

const TTL = 30;
const kit = useKit('session', { env: { SEALCAST_ACCESS_TOKEN_TTL_SECS: String(TTL) } });

test('tokens stay in memory, refresh in the background, survive a reload, end at logout', { timeout: 120000 }, async () => {
  const context = await kit.context();
  await context.clock.install();
  const page = await context.newPage();
  const isRefresh = (resp) => new URL(resp.url()).pathname === '/api/v1/auth/refresh';
  const loginResponse = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
  await kit.login(page, 'admin');
  const login = await (await loginResponse).json();
  // The page's time by which it holds the first token.
  const loggedInAt = await page.evaluate(() => Date.now());
  assert.equal(login.expires_in, TTL);

  // Nothing a script can read holds a credential.
  const readable = await page.evaluate(() => ({
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    cookie: document.cookie,
  }));
  assert.ok(!readable.storage.includes(login.access_token), 'no access token in web storage');
  assert.ok(!readable.cookie.includes('sealcast_refresh'), 'the refresh cookie is HttpOnly');

  // A refresh happens on its own before the token expires: with the page's
  // clock moved to three seconds short of expiry and stopped there, the page
  // has refreshed.
  const background = page.waitForResponse((r) => isRefresh(r) && r.status() === 200, { timeout: 15000 });
  await context.clock.pauseAt(loggedInAt + (TTL - 3) * 1000);
  await background;

  // After the first token has expired, the page still works, on a new token.
  await context.clock.fastForward(5000);
  const mark = context.requests.length;
  await page.getByTestId('reload-audit').click();
  await page.locator('[data-testid=audit-row]').first().waitFor();
  const later = context.requests.slice(mark).filter((r) => r.headers.authorization);
  assert.ok(later.length >= 1);
  assert.ok(later.every((r) => r.headers.authorization !== `Bearer ${login.access_token}`), 'a fresh token is used');
  assert.equal(await page.getByTestId('users-error').isVisible(), false);
  await context.clock.resume();

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
