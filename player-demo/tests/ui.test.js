// A smoke test of the interface itself: the login form by keyboard, refusals
// shown in words, a phone-sized screen without sideways scrolling, and the
// not-found page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useKit } from './helpers.js';

const kit = useKit('ui');

test('the login form works by keyboard and says why a sign-in failed', async () => {
  const context = await kit.context();
  const page = await context.newPage();
  await page.goto(`${kit.url}/login`);
  await page.getByTestId('login-form').waitFor();
  // The email field has focus on arrival; Tab moves to the password, then the button.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'login-email');
  await page.keyboard.type('nobody@example.test');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'login-password');
  await page.keyboard.type('wrong password');
  await page.keyboard.press('Enter');
  const error = page.getByTestId('login-error');
  await error.waitFor({ state: 'visible', timeout: 10000 });
  assert.ok((await error.textContent()).trim().length > 5, 'a readable reason');
  assert.equal(await error.getAttribute('role'), 'alert');
  // Labels are tied to their inputs.
  assert.equal(await page.getByLabel('Email').getAttribute('data-testid'), 'login-email');
  assert.equal(await page.getByLabel('Password').getAttribute('data-testid'), 'login-password');
  await context.close();
});

test('a phone-sized screen needs no sideways scrolling', async () => {
  const context = await kit.context({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${kit.url}/login`);
  await page.getByTestId('login-form').waitFor();
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth, `page is ${scrollWidth}px wide in a ${clientWidth}px screen`);
  const box = await page.getByTestId('login-submit').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, 'the button is on screen');
  await context.close();
});

test('unknown app pages and protected pages behave', async () => {
  const context = await kit.context();
  const page = await context.newPage();
  // A protected page sends an anonymous visitor to log in, remembering where.
  await page.goto(`${kit.url}/admin`);
  await page.getByTestId('login-form').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('next'), '/admin');
  // A path outside the app is the API's JSON 404, not the shell.
  const resp = await page.goto(`${kit.url}/api/v1/definitely-not-here`);
  assert.equal(resp.status(), 404);
  assert.equal((await resp.json()).error.code, 'not_found');
  await context.close();
});
