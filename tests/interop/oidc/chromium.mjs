// What the browser drivers of the interop tests share (browser.mjs for test_oidc.sh,
// local_browser.mjs for test_local_login.sh): Debian's chromium through playwright-core with a
// fresh profile, screenshots as $OUT/NAME-<n>-<what>.png, and a page described as JSON.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

export async function openBrowser() {
  const out = process.env.OUT;
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
  const shot = async (name, what) =>
    page.screenshot({ path: path.join(out, `${name}-${++shots}-${what}.png`), fullPage: true });
  const describe = async (response) => ({
    status: response ? response.status() : 0,
    url: page.url(),
    title: await page.title(),
    h1: await page.locator('h1').first().textContent().catch(() => ''),
    text: (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').trim(),
  });
  // Runs `scenario`, closes the browser and prints what it returned as JSON.
  const run = async (scenario) => {
    let result;
    try {
      result = await scenario();
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
    console.log(JSON.stringify(result));
  };
  return { context, page, shot, describe, run };
}
