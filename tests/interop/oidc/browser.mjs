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
import { openBrowser } from './chromium.mjs';

const [scenario, ...args] = process.argv.slice(2);
const { context, page, shot, describe, run } = await openBrowser();

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

await run(async () => {
  if (scenario === 'signin') return signIn(args[0], args[1], args[2]);
  if (scenario === 'visit') {
    const response = await page.goto(args[0]);
    const result = await describe(response);
    await shot(args[1], 'page');
    return result;
  }
  if (scenario === 'reuse-code') return reuseCode(args[0], args[1], args[2]);
  if (scenario === 'forged-confirm') return signIn(args[0], args[1], args[2], true);
  if (scenario === 'wrong-nonce') return wrongNonce(args[0], args[1], args[2]);
  if (scenario === 'lost-cookie') return reuseCode(args[0], args[1], args[2], true);
  throw new Error(`unknown scenario ${scenario}`);
});
