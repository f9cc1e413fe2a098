// The built app as `sealcast serve` delivers it: a strict CSP on the shell,
// every request to the server's own origin, and no policy violation while
// the pages render.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foreignRequests, useKit } from './helpers.js';

const kit = useKit('served');

test('the app loads from the server alone, under its Content-Security-Policy', async () => {
  const context = await kit.context();
  const violations = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations = window.__cspViolations || [];
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
  });
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));

  const resp = await page.goto(`${kit.url}/`);
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'];
  assert.ok(csp, 'the shell carries a Content-Security-Policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);

  // Not signed in: the app lands on the login form.
  await page.getByTestId('login-form').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  // A deep link survives a reload (the server falls back to the shell).
  const deep = await page.goto(`${kit.url}/studio/courses/0123456789abcdef0123456789abcdef`);
  assert.equal(deep.status(), 200);
  await page.getByTestId('login-form').waitFor();
  assert.match(page.url(), /\/login\?next=%2Fstudio%2Fcourses%2F/);

  // Assets came with the right types and long-lived caching.
  const assets = context.requests.filter((r) => new URL(r.url).pathname.startsWith('/assets/'));
  assert.ok(assets.length >= 2, `script and style assets were loaded: ${JSON.stringify(assets)}`);

  const foreign = foreignRequests(context.requests, kit.url);
  assert.deepEqual(foreign, [], 'no request left the server’s origin');
  const recorded = await page.evaluate(() => window.__cspViolations || []);
  assert.deepEqual([...violations, ...recorded], [], 'no CSP violation');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
  await context.close();
});
