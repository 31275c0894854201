// The person at the browser in test_local_login.sh: Debian's chromium driven by playwright-core
// (installed by test_oidc.sh's package.json), a fresh profile per run, filling hs's own sign-in
// form on /register/<id>. Scenarios (each prints the last page as JSON):
//   signin URL SHOT USER PASSWORD [CODE]         one sign-in
//   tries URL SHOT N USER PASSWORD [CODE]        N sign-ins in a row from one page
//   change URL SHOT USER PASSWORD CODE NEW       sign in, then set NEW on the expired-password page
//   no-csrf URL SHOT USER PASSWORD               the form sent without its CSRF token
// Every page is saved as $OUT/SHOT-<n>-<what>.png.
import { openBrowser } from './chromium.mjs';

const [scenario, url, shotName, ...args] = process.argv.slice(2);
const { page, shot: shotAs, describe, run } = await openBrowser();
const shot = (what) => shotAs(shotName, what);

// Sends the form on the current page; returns the answer page, saved as `what`.
async function send(what) {
  const answer = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.click('button[type="submit"]');
  const response = await answer;
  await page.waitForLoadState('load');
  const result = await describe(response);
  await shot(what);
  return result;
}

// Fills the sign-in form on the current page and sends it.
async function submit(user, password, code, what) {
  await page.fill('#name', user);
  await page.fill('#password', password);
  await page.fill('#code', code ?? '');
  return send(what);
}

async function open() {
  const response = await page.goto(url);
  await shot('form');
  const r = await describe(response);
  if (r.status !== 200) throw new Error(`the sign-in page answered ${r.status}: ${r.text}`);
}

async function tries(n, user, password, code) {
  await open();
  const result = { pages: [] };
  for (let i = 0; i < n; i++) {
    const r = await submit(user, password, code, `try${i + 1}`);
    result.pages.push({ status: r.status, h1: r.h1 });
    result.last = r;
    // A refusal shows the form again; a page without it (locked) ends the series.
    if (await page.locator('#password').count() === 0 && i + 1 < n) await page.goto(url);
  }
  return result;
}

// Sign in, then on the expired-password page a weak password first (the policy applies), then
// the real one.
async function change(user, password, code, fresh) {
  await open();
  const expired = await submit(user, password, code, 'expired');
  if (expired.h1 !== 'Password expired') throw new Error(`no expired-password page: ${JSON.stringify(expired)}`);
  const setNew = async (pw, what) => {
    await page.fill('#new_password', pw);
    await page.fill('#new_password2', pw);
    return send(what);
  };
  return { expired, weak: await setNew('password1234', 'weak'), last: await setNew(fresh, 'result') };
}

await run(async () => {
  if (scenario === 'signin') {
    await open();
    return submit(args[0], args[1], args[2], 'result');
  }
  if (scenario === 'tries') return tries(Number(args[0]), args[1], args[2], args[3]);
  if (scenario === 'change') return change(...args);
  if (scenario === 'no-csrf') {
    await open();
    await page.evaluate(() => document.querySelector('input[name="csrf"]').remove());
    return submit(args[0], args[1], '', 'result');
  }
  throw new Error(`unknown scenario ${scenario}`);
});
