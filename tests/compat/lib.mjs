// Shared helpers of the drop-in tests: the system under test (started by
// system.py), tokens, and waiting for what a client receives.
import { createHmac, randomBytes } from 'node:crypto';

export const gateways = (process.env.PRS_GW_URLS || '').split(',').filter(Boolean);
export const auth = process.env.PRS_AUTH || 'none';
export const graceMs = Number(process.env.PRS_GRACE_MS || 1200);
if (gateways.length === 0)
  throw new Error('PRS_GW_URLS is not set: run through system.py');

// A user id unique to this run; numeric ids come out as JSON numbers on
// drop-in endpoints, so tests use both kinds.
export function uid(prefix = 'u') {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
export function intId() {
  return 1e9 + Math.floor(Math.random() * 1e12);
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

// An HS256 token for the system's secret (auth jwt).
export function token(sub, claims = {}) {
  const secret = process.env.PRS_JWT_SECRET;
  if (!secret) throw new Error('PRS_JWT_SECRET is not set (auth none?)');
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({
    sub: String(sub), exp: Math.floor(Date.now() / 1000) + 3600, ...claims,
  }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(sig)}`;
}

export function wsUrl(httpUrl, path) {
  return httpUrl.replace(/^http/, 'ws') + path;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with the first value of list (an array that a client appends
// to) for which pred is true, looking at items after index from; rejects
// after ms with what was seen.
export async function waitFor(list, pred, { ms = 5000, from = 0, what = 'item' } = {}) {
  const end = Date.now() + ms;
  for (;;) {
    for (let i = from; i < list.length; i++)
      if (pred(list[i])) return list[i];
    if (Date.now() > end)
      throw new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(list.slice(from)).slice(0, 2000)}`);
    await sleep(10);
  }
}

// Asserts that nothing matching pred arrives within ms.
export async function expectNone(list, pred, { ms = 500, from = 0, what = 'item' } = {}) {
  await sleep(ms);
  const hit = list.slice(from).find(pred);
  if (hit !== undefined)
    throw new Error(`unexpected ${what}: ${JSON.stringify(hit)}`);
}

// The admin HTTP API of gateway gw (auth none: every caller is an admin).
export async function api(method, path, body, { gw = 0, user } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (auth === 'jwt') headers.authorization = `Bearer ${token(user || 'compat-admin', user ? {} : { admin: true })}`;
  else if (user) headers['x-user-id'] = user;
  const r = await fetch(gateways[gw] + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}
