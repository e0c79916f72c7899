// The pages under auth jwt in headless Chromium: the admin console asks
// for an admin token (and refuses a user's), the demo signs in with a
// pasted token, and a pasted token that expires ends the demo's session
// with a message instead of endless retries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';
import { gateways, auth, token, api } from './lib.mjs';
import { rawClient } from './sdklib.mjs';

if (auth !== 'jwt') throw new Error('browser_auth runs under auth jwt (prs_add_compat AUTH jwt)');
const base = gateways[0];
let browser;
const problems = [];

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.PRS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
});
after(async () => { if (browser) await browser.close(); });

async function newPage(label) {
  const page = await (await browser.createBrowserContext()).newPage();
  await page.setViewport({ width: 1280, height: 820 });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${label}: ${e.message}`));
  return page;
}

test('admin console and demo with tokens', async () => {
  await api('PUT', '/v1/threads/ops/members', { user_ids: ['jo', 'kim'] });
  const kim = await rawClient('kim', 1, { meta: { user_name: 'Kim' } });

  const admin = await newPage('admin');
  await admin.goto(`${base}/admin/`);
  await admin.waitForSelector('#token-card:not([hidden])');
  await admin.type('#token', token('jo'));
  await admin.click('#token-form button');
  await admin.waitForFunction(() => /not an admin token/.test(document.querySelector('#token-error').textContent));
  assert.equal(await admin.$eval('#console', (el) => el.hidden), true);
  await admin.$eval('#token', (el) => { el.value = ''; });
  await admin.type('#token', token('root', { admin: true }));
  await admin.click('#token-form button');
  await admin.waitForSelector('#console:not([hidden])');
  await admin.waitForSelector('#users tr[data-user="kim"][data-status="online"]');
  assert.match(await admin.$eval('#auth-state', (el) => el.textContent), /admin token/);

  // the demo: a user token pasted; the roster comes from list_online
  // (a user may not read the member list)
  const jo = await newPage('jo');
  await jo.goto(`${base}/demo/`);
  await jo.click('#token-box summary');
  await jo.type('#token', token('jo'));
  await jo.$eval('#thread', (el) => { el.value = 'ops'; });
  await jo.click('#join');
  await jo.waitForSelector('#conn.ok');
  await jo.waitForSelector('#roster li[data-user="kim"][data-status="online"]');
  await jo.waitForSelector('#roster li[data-user="jo"]');
  await admin.waitForSelector('#users tr[data-user="jo"][data-status="online"]');
  kim.send({ type: 'set_status', status: 'away', text: 'brb' });
  await jo.waitForSelector('#roster li[data-user="kim"][data-status="away"]');

  // a pasted token cannot be refreshed: at exp the session ends for good,
  // and the page says so
  const short = await newPage('lee');
  await api('POST', '/v1/threads/ops/members', { user_ids: ['lee'] });
  await short.goto(`${base}/demo/`);
  await short.click('#token-box summary');
  await short.$eval('#token', (el, t) => { el.value = t; }, token('lee', { exp: Math.floor(Date.now() / 1000) + 4 }));
  await short.$eval('#thread', (el) => { el.value = 'ops'; });
  await short.click('#join');
  await short.waitForSelector('#conn.ok');
  await short.waitForSelector('#app-banner:not([hidden])', { timeout: 10000 });
  assert.match(await short.$eval('#app-banner', (el) => el.textContent), /no longer accepts your token/);
  kim.ws.close();
  // expected in the browser's own log: the console's first request
  // without a token (401: that is how it learns it needs one), the user
  // token refused by the console (403), and lee's refused reconnect (a
  // failed WebSocket); nothing else may be there
  const expected = [
    /^admin: Failed to load resource: .* 401 /, /^admin: Failed to load resource: .* 403 /, /^lee: WebSocket /,
  ];
  assert.deepEqual(problems.filter((p) => !expected.some((re) => re.test(p))), []);
});
