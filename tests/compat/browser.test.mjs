// The pages the gateway serves, in a real browser (Debian's chromium,
// headless, through puppeteer-core): the static files' headers and
// traversal refusals over raw HTTP, then the demo with two users in one
// thread (online, away through a hidden page, typing, offline), the admin
// console listing them and kicking one. Screenshots of both pages go to
// PRS_SCREENSHOT_DIR (default: a temp dir; docs/images holds a committed
// pair). Any console error or CSP violation on a page fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { gateways, graceMs, api, sleep } from './lib.mjs';
import { rawClient } from './sdklib.mjs';

const base = gateways[0];
const CHROMIUM = process.env.PRS_CHROMIUM || '/usr/bin/chromium';
const shots = process.env.PRS_SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'prs-shots-'));
fs.mkdirSync(shots, { recursive: true });

// One raw HTTP/1.1 request (fetch would normalize the dots away).
function raw(target, method = 'GET', extra = '') {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname);
    let buf = Buffer.alloc(0);
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    s.on('error', reject);
    s.on('end', () => {
      const text = buf.toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const status = Number(head.split(' ')[1]);
      resolve({ status, head, body: rest.join('\r\n\r\n') });
    });
    s.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);
  });
}

test('static files: types, ETag and 304, cache headers, CSP, HEAD, no traversal', async () => {
  const js = await fetch(`${base}/v1/client.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.match(js.headers.get('cache-control'), /max-age=300/);
  assert.equal(js.headers.get('access-control-allow-origin'), '*'); // importable from any page
  const etag = js.headers.get('etag');
  assert.match(etag, /^W\/"[0-9a-f.-]+"$/);
  assert.match(await js.text(), /export class PresenceClient/);
  const again = await raw('/v1/client.js', 'GET', `If-None-Match: "x", ${etag}\r\n`);
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  const dts = await fetch(`${base}/v1/client.d.ts`);
  assert.match(dts.headers.get('content-type'), /typescript/);
  const page = await fetch(`${base}/demo/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html; charset=utf-8/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'; script-src 'self'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('access-control-allow-origin'), null);
  assert.equal((await fetch(`${base}/admin`)).status, 200);
  assert.match((await fetch(`${base}/ui/base.css`)).headers.get('content-type'), /^text\/css/);
  const head = await raw('/demo/demo.js', 'HEAD');
  assert.equal(head.status, 200);
  assert.match(head.head, /Content-Length: [1-9]\d*/);
  assert.equal(head.body, '');
  for (const t of ['/demo/%2e%2e/%2e%2e/etc/passwd', '/demo/..%2f..%2fetc%2fpasswd', '/demo/%2e%2e%2fadmin%2fadmin.js',
    '/demo/index.html%00.js', '/demo/.%2e', '/ui/..%5c..%5cREADME.md', '/demo/../../etc/passwd',
    '/v1/..%2fclient.js', '/demo/nope.js', '/demo/CMakeLists.txt', '/admin/admin.js.bak'])
    assert.equal((await raw(t)).status, 404, t);
  assert.equal((await raw('/demo/', 'POST', 'Content-Length: 0\r\n')).status, 405);
  // the drop-in admin route under /admin/ is still the API
  const seed = await api('GET', '/admin/online-users');
  assert.equal(seed.status, 200);
  assert.ok(Array.isArray(seed.json.online_users));
});

let browser;
const problems = [];
let problemsFrom = 0; // each test checks the problems of its own pages

before(async () => {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A page in its own browser context (its own storage: one user each).
async function newPage(label) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  await page.setViewport({ width: 1280, height: 820 });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${label}: ${e.message}`));
  return page;
}

async function signIn(page, name, thread) {
  await page.goto(`${base}/demo/`, { waitUntil: 'load' });
  await page.type('#name', name);
  await page.$eval('#thread', (el) => { el.value = ''; });
  await page.type('#thread', thread);
  await page.click('#join');
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('#conn.ok');
}

const row = (user, status) => `#roster li[data-user="${user}"]${status ? `[data-status="${status}"]` : ''}`;

async function setHidden(page, hidden) {
  await page.evaluate((hide) => {
    if (hide) {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    } else {
      delete document.visibilityState;
      delete document.hidden;
    }
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('demo and admin console in headless Chromium', async () => {
  const thread = 'lobby';
  // people already in the thread, for a roster worth looking at
  await api('PUT', `/v1/threads/${thread}/members`, { user_ids: ['dana', 'evan', 'farah'] });
  const dana = await rawClient('dana', 1, { meta: { user_name: 'Dana' }, status: 'dnd', text: 'In a meeting until 3' });
  const evan = await rawClient('evan', 1, { meta: { user_name: 'Evan' } });
  evan.send({ type: 'bye' });
  await evan.closed;
  const farah = await rawClient('farah', 1, { meta: { user_name: 'Farah' }, text: 'Reviewing the release' });

  const alice = await newPage('alice');
  const bob = await newPage('bob');
  await signIn(alice, 'Alice', thread);
  await signIn(bob, 'Bob', thread);

  // online: each sees the other, within milliseconds
  let t0 = Date.now();
  await alice.waitForSelector(row('bob', 'online'), { timeout: 5000 });
  await bob.waitForSelector(row('alice', 'online'), { timeout: 5000 });
  const seeOnlineMs = Date.now() - t0;
  await alice.waitForSelector(row('dana', 'dnd'));
  await alice.waitForSelector(row('evan', 'offline'));
  assert.match(await alice.$eval(row('evan'), (el) => el.textContent), /Last seen just now/);
  assert.equal(await bob.evaluate(() => document.visibilityState), 'visible');

  // the admin console, opened early so its feed sees what follows
  const admin = await newPage('admin');
  await admin.goto(`${base}/admin/`, { waitUntil: 'load' });
  await admin.waitForSelector('#console:not([hidden])');
  // listed, and watched by the console's session (the status comes from it)
  await admin.waitForSelector('#users tr[data-user="alice"][data-status="online"]');
  await admin.waitForSelector('#users tr[data-user="bob"][data-status="online"]');
  await admin.waitForSelector('#feed-state.ok');

  // away: bob's page becomes hidden -> activity idle -> auto-away
  t0 = Date.now();
  await setHidden(bob, true);
  await alice.waitForSelector(row('bob', 'away'), { timeout: 5000 });
  assert.match(await alice.$eval(row('bob'), (el) => el.textContent), /Away · idle/);
  await setHidden(bob, false);
  await alice.waitForSelector(row('bob', 'online'), { timeout: 5000 });
  const awayRoundMs = Date.now() - t0;

  // typing appears at the others, and expires without more input
  await bob.type('#composer', 'Shipping the release notes now', { delay: 15 });
  await alice.waitForFunction(() => /Bob is typing/.test(document.querySelector('#typing').textContent),
    { timeout: 5000 });
  // a status with text, for the pictures
  await bob.type('#status-text', 'Writing release notes');
  await bob.click('#status-picker button[data-status="online"]');
  await alice.waitForFunction(() => /Writing release notes/.test(document.querySelector('#roster li[data-user="bob"]').textContent),
    { timeout: 5000 });
  await alice.evaluate(() => new Promise((r) => setTimeout(r, 1300))); // the row's highlight fades
  await alice.screenshot({ path: path.join(shots, 'demo.png') });
  await alice.waitForFunction(() => document.querySelector('#typing').textContent === '', { timeout: 9000 });

  // the admin console lists both users, with sessions and history
  await admin.waitForSelector('#feed li');
  await admin.click('#users tr[data-user="bob"]');
  await admin.waitForSelector('#sessions td.mono');
  assert.equal((await admin.$$('#sessions tr')).length, 1);
  assert.match(await admin.$eval('#sessions', (el) => el.textContent), /web/);
  await admin.waitForSelector('#history tr .badge');
  await admin.$eval('#thread-id', (el) => { el.value = 'lobby'; });
  await admin.click('#thread-form button');
  await admin.waitForSelector('#members li[data-user="bob"]');
  // the other gateway too (its /healthz and /readyz answer any origin)
  await admin.type('#gw-url', gateways[1]);
  await admin.click('#gw-form button');
  await admin.waitForFunction((gw2) => document.querySelectorAll('#health tr').length === 4 &&
    document.querySelector(`#health tr[data-gateway="${gw2}"]`)?.textContent.includes('Ready') &&
    document.querySelector('#health').textContent.includes('Answering'), {}, gateways[1]);
  assert.equal(await admin.$eval('#stat-gateways', (el) => el.textContent), '2 / 2');
  // from the top: a full-page capture keeps the sticky header where the page was scrolled to
  await admin.evaluate(() => { window.scrollTo(0, 0); document.activeElement?.blur(); });
  await admin.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await admin.screenshot({ path: path.join(shots, 'admin.png'), fullPage: true });
  assert.match(await admin.$eval('#stat-online', (el) => el.textContent), /^[4-9]$/);

  // and kicks one: bob's page says so and stays out, alice sees him offline at once
  t0 = Date.now();
  await admin.click('#kick');
  await admin.click('#kick');
  await alice.waitForSelector(row('bob', 'offline'), { timeout: graceMs });
  await bob.waitForSelector('#app-banner:not([hidden])');
  assert.match(await bob.$eval('#app-banner', (el) => el.textContent), /administrator ended your session/);
  assert.match(await bob.$eval('#conn', (el) => el.textContent), /Disconnected/);
  await sleep(1500);
  assert.deepEqual((await api('GET', '/v1/users/bob/sessions')).json.sessions, []);
  await admin.waitForFunction(() => /Ended 1 session of bob/.test(document.querySelector('.toast')?.textContent ?? ''));

  // offline by leaving: a third user closes the page (unclean: after the grace)
  const carol = await newPage('carol');
  await signIn(carol, 'Carol', thread);
  await alice.waitForSelector(row('carol', 'online'), { timeout: 5000 });
  await carol.browserContext().close();
  await alice.waitForSelector(row('carol', 'offline'), { timeout: graceMs + 5000 });

  console.log(`online seen in ${seeOnlineMs} ms; hidden->away->online in ${awayRoundMs} ms; screenshots in ${shots}`);
  assert.deepEqual(problems.slice(problemsFrom), []);
  for (const c of [dana, farah]) c.ws.close();
});

test('the SDK imported by a page: idle after idleMs without input, active on input', async () => {
  problemsFrom = problems.length;
  const w = await rawClient('watcher-of-ivy', 1);
  let page;
  try {
    w.send({ type: 'watch', id: 'w', user_ids: ['ivy'] });
    page = await newPage('ivy');
    await page.goto(`${base}/demo/`); // a page of the gateway's origin (not signed in)
    await page.evaluate(async () => {
      const { PresenceClient } = await import('/v1/client.js');
      // t0 is before the client's idle clock starts: idleAt - t0 can only
      // overstate the idle delay, so the check below cannot fail on a
      // slow machine, only on an SDK that goes idle too soon.
      window.t0 = Date.now();
      // no url: the gateway the module came from
      window.ivy = new PresenceClient({ userId: 'ivy', autoAway: { idleMs: 1000 } });
      window.ivy.on('activity', (a) => { if (a.idle && !window.idleAt) window.idleAt = Date.now(); });
      await window.ivy.connect();
    });
    const seen = (pred) => w.seen.some((m) => m.type === 'presence' && m.user_id === 'ivy' && pred(m));
    const until = async (pred, what, ms = 5000) => {
      const end = Date.now() + ms;
      while (!seen(pred)) {
        if (Date.now() > end) throw new Error(`no ${what}; saw ${JSON.stringify(w.seen)}`);
        await sleep(20);
      }
    };
    await until((m) => m.status === 'online', 'ivy online');
    await until((m) => m.status === 'away' && m.auto === true, 'ivy auto-away');
    const idleAfter = await page.evaluate(() => window.idleAt - window.t0);
    assert.ok(idleAfter >= 1000, `idle after ${idleAfter} ms (idleMs 1000)`);
    const n = w.seen.length;
    await page.mouse.move(40, 40);
    await page.mouse.move(80, 60);
    const end = Date.now() + 5000;
    while (!w.seen.slice(n).some((m) => m.type === 'presence' && m.user_id === 'ivy' && m.status === 'online')) {
      if (Date.now() > end) throw new Error('ivy not online again after input');
      await sleep(20);
    }
    assert.equal(await page.evaluate(() => window.ivy.idle), false);
    await page.evaluate(() => window.ivy.close());
  } finally {
    if (page) await page.browserContext().close();
    w.ws.close();
  }
  assert.deepEqual(problems.slice(problemsFrom), []);
});
