// Helpers of the SDK and browser suites (sdk*.test.mjs, browser.test.mjs):
// the SDK under Node, raw v1 clients to compare with, and the process
// control of system.py (real signals to real gateways).
import WebSocket from 'ws';
import { PresenceClient } from '../../clients/js/presence-client.js';
import { gateways, auth, token, wsUrl, waitFor, sleep } from './lib.mjs';

export { PresenceClient };

// An SDK client recording everything it emits: events[] holds
// {t, type, ...} in arrival order.
export function sdkClient(user, opts = {}) {
  const c = new PresenceClient({
    url: opts.url ?? gateways[0],
    WebSocket,
    ...(auth === 'jwt' ? { token: opts.token ?? (() => token(user)) } : { userId: user }),
    ...opts,
  });
  const events = [];
  c.on('presence', (p, prev) => events.push({ t: Date.now(), type: 'presence', p, prev }));
  c.on('state', (s) => events.push({ t: Date.now(), type: 'state', ...s }));
  c.on('typing', (e) => events.push({ t: Date.now(), type: 'typing', ...e }));
  c.on('error', (e) => events.push({ t: Date.now(), type: 'error', code: e.code, message: e.message }));
  // connect(), bounded: a test fails rather than hangs
  const connect = (ms = 10000) => withTimeout(c.connect(), ms, `${user} online`);
  return { c, events, user, connect };
}

export function withTimeout(p, ms, what) {
  let t;
  const limit = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), ms); });
  return Promise.race([p, limit]).finally(() => clearTimeout(t));
}

// A plain v1 WebSocket client (no SDK) on gateway gw.
export async function rawClient(user, gw = 0, hello = {}) {
  const q = auth === 'jwt' ? `?token=${token(user)}` : `?user_id=${encodeURIComponent(user)}`;
  const ws = new WebSocket(wsUrl(gateways[gw], `/v1/ws${q}`));
  const seen = [];
  ws.on('message', (m) => seen.push(JSON.parse(m.toString())));
  const closed = new Promise((res) => ws.once('close', (code) => res(code)));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  ws.send(JSON.stringify({ type: 'hello', id: 'h', ...hello }));
  await waitFor(seen, (m) => m.type === 'welcome', { what: `welcome of ${user}` });
  return { ws, seen, closed, send: (m) => ws.send(JSON.stringify(m)) };
}

// system.py's process control (PRS_CONTROL_URL).
export async function control(method, path) {
  const base = process.env.PRS_CONTROL_URL;
  if (!base) throw new Error('PRS_CONTROL_URL is not set: run through system.py');
  const r = await fetch(base + path, { method });
  const j = await r.json();
  if (r.status !== 200) throw new Error(`control ${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

export const killGateway = (k, sig = 'KILL') => control('POST', `/gateways/${k}/signal/${sig}`);
export const startGateway = (k) => control('POST', `/gateways/${k}/start`);

// Waits until the SDK client reaches state (after events index from).
export function waitState(cl, state, { ms = 10000, from = 0 } = {}) {
  return waitFor(cl.events, (e) => e.type === 'state' && e.state === state,
    { ms, from, what: `state ${state} of ${cl.user}` });
}

export function presenceOf(cl, user, pred = () => true, { ms = 5000, from = 0 } = {}) {
  return waitFor(cl.events, (e) => e.type === 'presence' && e.p.user_id === user && pred(e.p),
    { ms, from, what: `presence of ${user} at ${cl.user}` });
}

export { sleep };
