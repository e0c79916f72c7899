// Helpers of the Socket.IO drop-in tests: a socket.io-client 4.8 client
// that records what it receives, and raw Engine.IO requests for what the
// client library hides (errors, headers, the upgrade's order).
import { existsSync, readFileSync } from 'node:fs';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { gateways, auth, token, wsUrl, waitFor } from './lib.mjs';

// Every client made here, so that a failed test leaves none open (an
// open socket would keep the test process alive until ctest's timeout).
const live = new Set();
export function closeAll() {
  for (const close of live) {
    try { close(); } catch { /* already closed */ }
  }
  live.clear();
}

// Connects a socket.io-client to gateway gw (opts as io() takes them:
// transports, auth, extraHeaders, query...). Resolves once connected, with
// `seen` (every event as {name, args}), `changes` (userStatusChanged
// payloads), `emit` and `ack` (emitWithAck with a timeout).
export async function sioClient(gw = 0, opts = {}) {
  const socket = io(gateways[gw], {
    reconnection: false, forceNew: true, timeout: 5000, ...opts,
  });
  live.add(() => socket.close());
  const seen = [];
  const changes = [];
  socket.onAny((name, ...args) => {
    seen.push({ name, args });
    if (name === 'userStatusChanged') changes.push(args[0]);
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return {
    socket, seen, changes,
    emit: (name, ...args) => socket.emit(name, ...args),
    ack: (name, ...args) => socket.timeout(5000).emitWithAck(name, ...args),
    close: () => socket.close(),
  };
}

// Waits for a userStatusChanged about user (compared as a string) with
// status, among the changes c received from index `from` on.
export function waitChange(c, user, status, { ms = 5000, from = 0 } = {}) {
  return waitFor(c.changes, (m) => String(m.userId) === String(user) && m.status === status,
    { ms, from, what: `userStatusChanged ${user} ${status}` });
}

// Brings user online on client c (userOnline with an ack) and returns
// the ack.
export async function online(c, userId, userType = 'agent', userName = 'Name') {
  const r = await c.ack('userOnline', { userId, userType, userName });
  if (!r || r.ok !== true) throw new Error(`userOnline ${userId}: ${JSON.stringify(r)}`);
  return r;
}

// The gateway's Engine.IO URL with query q (an object).
export function eioUrl(gw, q = {}) {
  const u = new URL('/socket.io/', gateways[gw]);
  for (const [k, v] of Object.entries({ EIO: '4', ...q })) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

// fetch() of an Engine.IO request: {status, headers, text}.
export async function eio(gw, q, init = {}) {
  const r = await fetch(eioUrl(gw, q), init);
  return { status: r.status, headers: r.headers, text: await r.text() };
}

// A raw polling handshake: the open packet's fields.
export async function eioOpen(gw = 0, q = {}) {
  const r = await eio(gw, { transport: 'polling', ...q });
  if (r.status !== 200 || r.text[0] !== '0') throw new Error(`handshake: ${r.status} ${r.text}`);
  return JSON.parse(r.text.slice(1));
}

// A v1 WebSocket client of user on gateway gw, hello'd (as v1ws.test.mjs
// does; kept here so that importing it runs no other suite's tests).
export async function v1(user, gw = 0, hello = {}) {
  const q = auth === 'jwt' ? `?token=${token(user)}` : `?user_id=${encodeURIComponent(user)}`;
  const ws = new WebSocket(wsUrl(gateways[gw], `/v1/ws${q}`));
  live.add(() => ws.terminate());
  const seen = [];
  ws.on('message', (m) => seen.push(JSON.parse(m.toString())));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  ws.send(JSON.stringify({ type: 'hello', id: 'h', ...hello }));
  await waitFor(seen, (m) => m.type === 'welcome', { what: 'welcome' });
  return { ws, seen, send: (m) => ws.send(JSON.stringify(m)) };
}

// A raw Engine.IO WebSocket (transport=websocket, sid optional): resolves
// once open, with the frames it received (strings) and whether it closed.
export async function eioWs(gw = 0, q = {}, opts = {}) {
  const ws = new WebSocket(eioUrl(gw, { transport: 'websocket', ...q }).replace(/^http/, 'ws'), opts);
  live.add(() => ws.terminate());
  const frames = [];
  const st = { ws, frames, closed: false, code: null };
  ws.on('message', (m) => frames.push(m.toString()));
  ws.on('close', (code) => { st.closed = true; st.code = code; });
  ws.on('error', () => {}); // reported through the promise below
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
    ws.once('unexpected-response', (req, r) => {
      req.destroy();
      rej(new Error(`HTTP ${r.statusCode}`));
    });
  });
  return st;
}

// Chromium for the browser tests (scripts/deps installs Debian's), or
// null when this machine has none.
export function chromiumPath() {
  const p = process.env.PRS_CHROMIUM || '/usr/bin/chromium';
  return existsSync(p) ? p : null;
}

// A headless Chromium page whose origin is `origin` (its document and the
// socket.io-client browser bundle, /socket.io.min.js, are served by the
// test through request interception; everything else goes to the
// network). Returns {browser, page}.
export async function browserPage(origin) {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(), headless: true,
    // The page's made-up origin is public to Chromium and the gateway
    // listens on loopback: Private Network Access would block every
    // request before CORS is even looked at. A deployed gateway is not on
    // the page's private network, so the tests turn that off.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,'
      + 'PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks'],
  });
  const page = await browser.newPage();
  const bundle = readFileSync(new URL('./node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url));
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.url() === `${origin}/`)
      req.respond({ status: 200, contentType: 'text/html', body: '<!doctype html><script src="/socket.io.min.js"></script>' });
    else if (req.url() === `${origin}/socket.io.min.js`)
      req.respond({ status: 200, contentType: 'application/javascript', body: bundle });
    else if (req.url().startsWith(`${origin}/`))
      req.respond({ status: 404, body: '' });
    else
      req.continue();
  });
  await page.goto(`${origin}/`);
  return { browser, page };
}
