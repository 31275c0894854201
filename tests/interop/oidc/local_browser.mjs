// The person at the browser in test_local_login.sh: Debian's chromium driven by playwright-core
// (installed by test_oidc.sh's package.json), a fresh profile per run, filling hs's own sign-in
// form on /register/<id>. Scenarios (each prints the last page as JSON):
//   signin URL NAME SHOT USER PASSWORD [CODE]     one sign-in
//   tries URL NAME SHOT N USER PASSWORD [CODE]    N sign-ins in a row from one page
//   change URL NAME SHOT USER PASSWORD CODE NEW   sign in, then set NEW on the expired-password page
//   no-csrf URL NAME SHOT USER PASSWORD           the form sent without its CSRF token
// Every page is saved as $OUT/SHOT-<n>-<what>.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const out = process.env.OUT;
const [scenario, url, shotName, ...args] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
context.setDefaultTimeout(45000);
const page = context.pages()[0] ?? await context.newPage();
let shots = 0;
const shot = async (what) => page.screenshot({ path: path.join(out, `${shotName}-${++shots}-${what}.png`), fullPage: true });

async function describe(response) {
  return {
    status: response ? response.status() : 0,
    url: page.url(),
    title: await page.title(),
    h1: await page.locator('h1').first().textContent().catch(() => ''),
    text: (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').trim(),
  };
}

// Fills the sign-in form on the current page and sends it; returns the answer page.
async function submit(user, password, code, what) {
  await page.fill('#name', user);
  await page.fill('#password', password);
  await page.fill('#code', code ?? '');
  const answer = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.click('button[type="submit"]');
  const response = await answer;
  await page.waitForLoadState('load');
  const result = await describe(response);
  await shot(what);
  return result;
}

async function open() {
  const response = await page.goto(url);
  await shot('form');
  const r = await describe(response);
  if (r.status !== 200) throw new Error(`the sign-in page answered ${r.status}: ${r.text}`);
}

let result;
try {
  if (scenario === 'signin') {
    const [user, password, code] = args;
    await open();
    result = await submit(user, password, code, 'result');
  } else if (scenario === 'tries') {
    const [n, user, password, code] = args;
    await open();
    result = { pages: [] };
    for (let i = 0; i < Number(n); i++) {
      const r = await submit(user, password, code, `try${i + 1}`);
      result.pages.push({ status: r.status, h1: r.h1 });
      result.last = r;
      // A refusal shows the form again; a page without it (locked) ends the series.
      if (await page.locator('#password').count() === 0 && i + 1 < Number(n)) await page.goto(url);
    }
  } else if (scenario === 'change') {
    const [user, password, code, fresh] = args;
    await open();
    const expired = await submit(user, password, code, 'expired');
    if (expired.h1 !== 'Password expired') throw new Error(`no expired-password page: ${JSON.stringify(expired)}`);
    result = { expired };
    // The policy applies: a weak one first, then the real one.
    await page.fill('#new_password', 'password1234');
    await page.fill('#new_password2', 'password1234');
    let answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.click('button[type="submit"]');
    result.weak = await describe(await answer);
    await shot('weak');
    await page.fill('#new_password', fresh);
    await page.fill('#new_password2', fresh);
    answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.click('button[type="submit"]');
    const response = await answer;
    await page.waitForLoadState('load');
    result.last = await describe(response);
    await shot('result');
  } else if (scenario === 'no-csrf') {
    const [user, password] = args;
    await open();
    await page.evaluate(() => document.querySelector('input[name="csrf"]').remove());
    result = await submit(user, password, '', 'result');
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
