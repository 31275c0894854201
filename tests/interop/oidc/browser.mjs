// The person at the browser in test_oidc.sh: Debian's chromium driven by playwright-core, a
// fresh profile per run. Scenarios:
//   signin URL LOGIN NAME          open URL, sign in at the provider as LOGIN, consent; print
//                                  where it ended as JSON
//   visit URL NAME                 open URL, print the page as JSON
//   reuse-code URL OLD_CALLBACK NAME  start a login at URL, then come back to hs with its state
//                                  and the already redeemed code of OLD_CALLBACK
//   lost-cookie URL OLD_CALLBACK NAME  the same from a browser without hs's state cookie (a link
//                                  carried to another browser)
//   forged-confirm URL LOGIN NAME  sign in, then post hs's confirmation form without its cookie
//   wrong-nonce URL LOGIN NAME     open URL, then go to the provider with hs's authorization
//                                  request but another nonce (as a tampering page or extension
//                                  could), sign in as LOGIN: the provider's genuine ID token
//                                  carries that nonce
// Every page is saved as $OUT/NAME-<n>-<what>.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const out = process.env.OUT;
const [scenario, ...args] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  // The provider's certificate comes from the lab's CA, which this fresh profile does not know.
  ignoreHTTPSErrors: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// Generous: the test machine is shared, and a page of the provider has taken over 20 s to load there.
context.setDefaultTimeout(45000);
const page = context.pages()[0] ?? await context.newPage();
let shots = 0;
const shot = async (name, what) => page.screenshot({ path: path.join(out, `${name}-${++shots}-${what}.png`), fullPage: true });

async function describe(response) {
  return {
    status: response ? response.status() : 0,
    url: page.url(),
    title: await page.title(),
    h1: await page.locator('h1').first().textContent().catch(() => ''),
    text: (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').trim(),
  };
}

// The provider's login form, then its consent form, then hs's confirmation page when the
// callback shows one (the button is pressed; with `forgeConfirm` from a browser that lost hs's
// cookie, as a form posted by another site would arrive). Returns where it ended.
async function signIn(url, login, name, forgeConfirm = false) {
  await page.goto(url);
  await shot(name, 'provider-login');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]');
  await shot(name, 'provider-consent');
  const callback = page.waitForResponse((r) => r.url().includes('/oidc/callback'));
  await page.click('button[type="submit"]');
  const response = await callback;
  await page.waitForLoadState('load');
  let result = await describe(response);
  result.callback = response.url();
  if (await page.locator('form[action^="/register/confirm/"]').count()) {
    await shot(name, 'confirm');
    const asked = result;
    const confirmed = page.waitForResponse((r) => r.url().includes('/register/confirm/'));
    if (forgeConfirm) await context.clearCookies();
    await page.click('form[action^="/register/confirm/"] button[type="submit"]');
    const answer = await confirmed;
    await page.waitForLoadState('load');
    result = await describe(answer);
    result.callback = asked.callback;
    result.confirm = { status: asked.status, h1: asked.h1, text: asked.text };
  }
  await shot(name, 'result');
  return result;
}

// Starts a login at URL (hs sets its state cookie and sends the browser to the provider), then,
// instead of signing in, comes back to hs's callback with this login's state and the code of
// OLD_CALLBACK, which the provider has already redeemed.
async function reuseCode(url, oldCallback, name, dropCookies = false) {
  let state;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.searchParams.get('state') && u.searchParams.get('client_id')) state = u.searchParams.get('state');
  });
  await page.goto(url);
  await shot(name, 'provider-login');
  if (!state) throw new Error('no authorization request seen');
  const callback = new URL(oldCallback);
  callback.searchParams.set('state', state);
  if (dropCookies) await context.clearCookies();
  const response = await page.goto(callback.toString());
  const result = await describe(response);
  await shot(name, 'result');
  return result;
}

// hs sends the browser to the provider with its state and nonce; the same request with another
// nonce starts a second, genuine authorization at the provider.
async function wrongNonce(url, login, name) {
  let auth;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!auth && u.searchParams.get('nonce') && u.searchParams.get('client_id')) auth = u;
  });
  await page.goto(url);
  if (!auth) throw new Error('no authorization request seen');
  auth.searchParams.set('nonce', `not-the-nonce-hs-sent-${Date.now()}`);
  return signIn(auth.toString(), login, name);
}

let result;
try {
  if (scenario === 'signin') {
    result = await signIn(args[0], args[1], args[2]);
  } else if (scenario === 'visit') {
    const response = await page.goto(args[0]);
    result = await describe(response);
    await shot(args[1], 'page');
  } else if (scenario === 'reuse-code') {
    result = await reuseCode(args[0], args[1], args[2]);
  } else if (scenario === 'forged-confirm') {
    result = await signIn(args[0], args[1], args[2], true);
  } else if (scenario === 'wrong-nonce') {
    result = await wrongNonce(args[0], args[1], args[2]);
  } else if (scenario === 'lost-cookie') {
    result = await reuseCode(args[0], args[1], args[2], true);
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
