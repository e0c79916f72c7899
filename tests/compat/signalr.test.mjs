// Seed 000 (ASP.NET Core SignalR hub): the real @microsoft/signalr client
// (HubConnectionBuilder, as the seed's pages use it) against the
// gateways, plus raw `ws` connections for what the client never sends
// (other protocols, records split across frames, silence). The same file
// runs under auth none (compat_signalr) and auth jwt (compat_signalr_jwt).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import * as signalR from '@microsoft/signalr';
import {
  gateways, auth, graceMs, uid, intId, token, wsUrl, waitFor, expectNone, sleep,
} from './lib.mjs';
import { v1client as v1connect } from './v1ws.test.mjs';

const HUB = '/hubs/location';   // the seed's
const HUB2 = '/hubs/presence';
const gw2 = gateways.length > 1 ? 1 : 0;
const jwt = auth === 'jwt';
const started = Date.now();
const open = [];     // hub connections, stopped at the end
const sockets = [];  // raw and v1 WebSockets, closed at the end (a failed
                     // test must not keep the process alive)

const RS = '\x1e';
const NO_METHOD = (m) => `Failed to invoke '${m}' due to an error on the server. HubException: Method does not exist.`;

// A hub connection through the real client; `seen` collects the hub's
// events as {ev, ...argument}.
async function hub(user, { gw = 0, path = HUB, skipNegotiation = false, tokenUser, claims } = {}) {
  const opts = {};
  if (skipNegotiation) {
    opts.skipNegotiation = true;
    opts.transport = signalR.HttpTransportType.WebSockets;
  }
  if (jwt) opts.accessTokenFactory = () => token(tokenUser ?? user, claims);
  const conn = new signalR.HubConnectionBuilder()
    .withUrl(gateways[gw] + path, opts)
    .configureLogging(signalR.LogLevel.None)
    .build();
  const seen = [];
  for (const ev of ['UserStatusChanged', 'UserRegistered', 'UserRegistrationFailed'])
    conn.on(ev, (a) => seen.push({ ev, ...a }));
  const closed = new Promise((r) => conn.onclose((e) => r(e)));
  await conn.start();
  const c = { conn, seen, closed };
  open.push(c);
  return c;
}

async function registered(user, o = {}) {
  const c = await hub(user, o);
  await c.conn.invoke('RegisterUser', user);
  await waitFor(c.seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered' });
  return c;
}

const statusOf = (id, status) => (m) => m.ev === 'UserStatusChanged' && m.user_id === id && m.status === status;

async function v1client(user, gw, hello) {
  const v = await v1connect(user, gw, hello);
  sockets.push(v.ws);
  return v;
}

function authHeaders(user) {
  return jwt ? { authorization: `Bearer ${token(user)}` } : {};
}

// A raw WebSocket to a hub: records are split at \x1e and parsed.
async function raw(path = HUB, { gw = 0, user = uid('raw') } = {}) {
  const ws = new WebSocket(wsUrl(gateways[gw], path), { headers: authHeaders(user) });
  sockets.push(ws);
  const recs = [];
  let buf = '';
  ws.on('message', (m) => {
    buf += m.toString();
    for (let i; (i = buf.indexOf(RS)) >= 0; buf = buf.slice(i + 1))
      recs.push(JSON.parse(buf.slice(0, i)));
  });
  const closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString(), at: Date.now() })));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  return { ws, recs, closed, send: (s) => ws.send(s) };
}

async function negotiate(path = HUB, query = '?negotiateVersion=1', headers = {}) {
  const r = await fetch(gateways[0] + path + '/negotiate' + query, {
    method: 'POST', headers: { ...authHeaders('neg'), ...headers },
  });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
}

// The status code a WebSocket upgrade to url gets (101 when it opens).
function upgradeStatus(url, headers = {}) {
  return new Promise((res) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (req, resp) => { res(resp.statusCode); req.destroy(); });
    ws.on('open', () => { res(101); ws.close(); });
    ws.on('error', () => res(-1));
  });
}

// Started first, checked last: a client that handshakes and then stays
// silent gets a Ping within 15 s and is dropped at 30 s, unclean.
const silent = (async () => {
  const s = await raw(HUB2);
  s.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
  await waitFor(s.recs, (r) => Object.keys(r).length === 0, { what: 'handshake response' });
  s.t0 = Date.now();
  return s;
})();
// ... and a real client left idle for as long keeps its connection.
const idle = (async () => {
  const u = uid('idle');
  return { u, c: await registered(u) };
})();

after(async () => {
  for (const c of open) await c.conn.stop().catch(() => {});
  for (const ws of sockets) ws.terminate();
});

test('negotiate (version 1) + WebSockets, RegisterUser → UserRegistered', async () => {
  const u = uid('reg');
  const c = await hub(u);
  assert.equal(c.conn.state, signalR.HubConnectionState.Connected);
  assert.ok(c.conn.connectionId, 'negotiated connectionId');
  const res = await c.conn.invoke('RegisterUser', u);
  assert.equal(res, null);
  const m = await waitFor(c.seen, (e) => e.ev === 'UserRegistered', { what: 'UserRegistered' });
  assert.deepEqual(m, {
    ev: 'UserRegistered', user_id: u, is_active: true,
    message: 'User successfully registered and marked as active',
  });
  await c.conn.stop();
});

test('negotiate response shapes: version 1, version 0, bad version', async () => {
  const v1 = await negotiate();
  assert.equal(v1.status, 200);
  assert.equal(v1.json.negotiateVersion, 1);
  assert.match(v1.json.connectionId, /^[A-Za-z0-9_-]{22}$/);
  assert.match(v1.json.connectionToken, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(v1.json.connectionId, v1.json.connectionToken);
  assert.deepEqual(v1.json.availableTransports, [{ transport: 'WebSockets', transferFormats: ['Text'] }]);
  assert.equal(v1.json.useStatefulReconnect, undefined);
  const v0 = await negotiate(HUB2, '');
  assert.equal(v0.status, 200);
  assert.equal(v0.json.negotiateVersion, 0);
  assert.equal(v0.json.connectionToken, undefined);
  // a version 0 client connects with the connectionId
  const url = wsUrl(gateways[0], `${HUB2}?id=${v0.json.connectionId}`);
  assert.equal(await upgradeStatus(url, authHeaders('neg')), 101);
  assert.equal((await negotiate(HUB, '?negotiateVersion=x')).status, 400);
  const get = await fetch(gateways[0] + HUB + '/negotiate', { headers: authHeaders('neg') });
  assert.equal(get.status, 405);
});

test('skipNegotiation: WebSocket straight to the hub', async () => {
  const u = uid('skip');
  const c = await registered(u, { skipNegotiation: true, path: HUB2 });
  assert.equal(c.conn.connectionId, null);
  await c.conn.stop();
});

test('a tracker sees a SignalR user on another gateway online, then offline only after grace', async () => {
  const t = uid('trk'), u = uid('tgt');
  const tr = await registered(t);
  await tr.conn.invoke('JoinUserTracking', u);
  const c = await registered(u, { gw: gw2, skipNegotiation: true });
  const on = await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  assert.equal(on.is_active, true);
  assert.match(on.last_seen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(Object.keys(on).sort(), ['ev', 'is_active', 'last_seen', 'status', 'user_id']);
  const n = tr.seen.length;
  const stopped = Date.now();
  await c.conn.stop();  // sends a Close record: an unclean end
  await expectNone(tr.seen, statusOf(u, 'offline'), { from: n, ms: graceMs * 0.6, what: 'offline before grace' });
  const off = await waitFor(tr.seen, statusOf(u, 'offline'), { from: n, ms: graceMs + 5000, what: `${u} offline` });
  assert.ok(Date.now() - stopped >= graceMs * 0.9, 'offline after the grace');
  assert.equal(off.is_active, false);
  assert.equal(tr.seen.filter(statusOf(u, 'online')).length, 1, 'one online event');
  await tr.conn.stop();
});

test('a tracker sees a v1 client on the other gateway; v1 sees the SignalR user', async () => {
  const t = uid('trk'), u = uid('v1');
  const tr = await registered(t, { gw: 0 });
  await tr.conn.invoke('JoinUserTracking', u);
  const v = await v1client(u, gw2);
  await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  v.send({ type: 'watch', id: 'w', user_ids: [t] });
  const list = await waitFor(v.seen, (m) => m.type === 'presence_list' && m.id === 'w', { what: 'presence_list' });
  assert.equal(list.users[0].status, 'online');
  v.send({ type: 'set_status', status: 'away' });
  const away = await waitFor(tr.seen, statusOf(u, 'away'), { what: `${u} away` });
  assert.equal(away.is_active, true);
  // the tracker's own end is seen by v1 (after grace: stop() is unclean)
  const t2 = uid('trk2');
  const tr2 = await registered(t2, { gw: 0, path: HUB2 });
  await tr2.conn.invoke('JoinUserTracking', u);
  await tr.conn.stop();
  await waitFor(v.seen, (m) => m.type === 'presence' && m.user_id === t && m.status === 'offline',
    { ms: graceMs + 5000, what: `${t} offline at v1` });
  v.send({ type: 'bye' });
  const off = await waitFor(tr2.seen, statusOf(u, 'offline'), { what: `${u} offline` });
  assert.equal(off.is_active, false);
  v.ws.close();
  await tr2.conn.stop();
});

test('tracking asked before RegisterUser takes effect with it; LeaveUserTracking stops events', async () => {
  const t = uid('trk'), u = uid('tgt'), w = uid('tgt');
  const tr = await hub(t);
  await tr.conn.invoke('JoinUserTracking', u);
  await tr.conn.invoke('JoinUserTracking', w);
  await tr.conn.invoke('RegisterUser', t);
  const cu = await registered(u, { gw: gw2 });
  await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  const res = await tr.conn.invoke('LeaveUserTracking', w);
  assert.equal(res, null);
  const n = tr.seen.length;
  await registered(w, { gw: gw2 });
  await expectNone(tr.seen, (m) => m.user_id === w, { from: n, ms: 800, what: `event about untracked ${w}` });
  // a second JoinUserTracking answers with the user's current status
  const cur = await tr.conn.invoke('JoinUserTracking', w);
  assert.equal(cur.user_id, w);
  assert.equal(cur.status, 'online');
  await cu.conn.stop();
});

test('a user stays active until all its connections are closed', async () => {
  const t = uid('trk'), u = uid('multi');
  const tr = await registered(t);
  await tr.conn.invoke('JoinUserTracking', u);
  const c1 = await registered(u, { gw: 0 });
  const c2 = await registered(u, { gw: gw2, path: HUB2 });
  await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  const n = tr.seen.length;
  await c1.conn.stop();
  await expectNone(tr.seen, (m) => m.user_id === u, { from: n, ms: graceMs + 800, what: 'event while a connection lives' });
  await c2.conn.stop();
  await waitFor(tr.seen, statusOf(u, 'offline'), { from: n, ms: graceMs + 5000, what: `${u} offline` });
  assert.equal(tr.seen.filter(statusOf(u, 'online')).length, 1, 'no second online');
});

test('JoinAllUsersTracking: every user\'s changes; LeaveAllUsersTracking stops them', async () => {
  const t = uid('all'), u = uid('any'), w = uid('any');
  const tr = await hub(t, { claims: { admin: true } });
  await tr.conn.invoke('JoinAllUsersTracking');  // before RegisterUser
  await tr.conn.invoke('RegisterUser', t);
  const cu = await registered(u, { gw: gw2 });
  const on = await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  assert.equal(on.is_active, true);
  const v = await v1client(w, gw2);
  await waitFor(tr.seen, statusOf(w, 'online'), { what: `v1 ${w} online` });
  v.send({ type: 'bye' });
  await waitFor(tr.seen, statusOf(w, 'offline'), { what: `v1 ${w} offline` });
  assert.equal(await tr.conn.invoke('LeaveAllUsersTracking'), null);
  const n = tr.seen.length;
  await cu.conn.stop();
  const x = await registered(uid('late'), { gw: gw2 });
  await expectNone(tr.seen, (m) => m.ev === 'UserStatusChanged', { from: n, ms: graceMs + 600, what: 'event after LeaveAllUsersTracking' });
  // registered first, then all users (awaited: in place once it resolves)
  await tr.conn.invoke('JoinAllUsersTracking');
  const y = uid('later');
  await registered(y, { gw: gw2 });
  await waitFor(tr.seen, statusOf(y, 'online'), { from: n, what: `${y} online` });
  await x.conn.stop();
  await tr.conn.stop();
});

test('jwt: JoinAllUsersTracking needs an admin token', { skip: !jwt }, async () => {
  const t = uid('nonadmin');
  const c = await registered(t);
  await assert.rejects(c.conn.invoke('JoinAllUsersTracking'),
    { message: "An unexpected error occurred invoking 'JoinAllUsersTracking' on the server. HubException: tracking all users needs an admin token" });
  assert.equal(await c.conn.invoke('LeaveAllUsersTracking'), null);
  await c.conn.stop();
});

test('method names are case-insensitive', async () => {
  const t = uid('trk'), u = uid('case');
  const tr = await hub(t);
  await tr.conn.invoke('registeruser', t);
  await waitFor(tr.seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered' });
  await tr.conn.invoke('JOINUSERTRACKING', u);
  const c = await hub(u, { gw: gw2 });
  await c.conn.send('registerUser', u);  // send: no Completion expected
  await waitFor(c.seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered via send' });
  await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online` });
  await c.conn.stop();
});

test('unknown and location methods reject invoke with ASP.NET\'s message; the connection stays', async () => {
  const u = uid('unk');
  const c = await hub(u);
  await assert.rejects(c.conn.invoke('NoSuchMethod', 1, 2), { message: NO_METHOD('NoSuchMethod') });
  await assert.rejects(c.conn.invoke('UpdateLocation', { lat: 1, lng: 2 }), { message: NO_METHOD('UpdateLocation') });
  await c.conn.send('NoSuchMethod');  // fire and forget: nothing comes back
  await assert.rejects(c.conn.invoke('RegisterUser'), {
    message: "Failed to invoke 'RegisterUser' due to an error on the server.",
  });
  await assert.rejects(c.conn.invoke('RegisterUser', { id: 1 }), {
    message: "Failed to invoke 'RegisterUser' due to an error on the server.",
  });
  await assert.rejects(c.conn.invoke('JoinUserTracking', ''), /HubException: invalid user id/);
  assert.equal(c.conn.state, signalR.HubConnectionState.Connected);
  await c.conn.invoke('RegisterUser', u);
  await waitFor(c.seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered after errors' });
  await c.conn.stop();
});

test('integer ids go out as JSON numbers', async () => {
  const t = intId(), u = intId();
  const tr = await hub(t);
  await tr.conn.invoke('RegisterUser', t);  // a number
  const reg = await waitFor(tr.seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered' });
  assert.equal(reg.user_id, t);
  await tr.conn.invoke('JoinUserTracking', String(u));  // a string
  const c = await hub(u, { gw: gw2 });
  await c.conn.invoke('RegisterUser', String(u));
  const on = await waitFor(tr.seen, (m) => m.ev === 'UserStatusChanged' && m.status === 'online', { what: 'online' });
  assert.equal(on.user_id, u);
  assert.equal(typeof on.user_id, 'number');
  const lead0 = '0' + String(u);
  await tr.conn.invoke('JoinUserTracking', lead0);
  if (!jwt) {  // under jwt the id must be the token's sub
    const z = await hub(lead0, { gw: gw2 });
    await z.conn.invoke('RegisterUser', lead0);
    const on0 = await waitFor(tr.seen, statusOf(lead0, 'online'), { what: `${lead0} online` });
    assert.equal(typeof on0.user_id, 'string');
    await z.conn.stop();
  }
  await c.conn.stop();
  await tr.conn.stop();
});

test('connection tokens are single use; unknown and expired ones are 404 before the upgrade', async () => {
  const n = await negotiate();
  const url = wsUrl(gateways[0], `${HUB}?id=${n.json.connectionToken}`);
  assert.equal(await upgradeStatus(url, authHeaders('neg')), 101);
  assert.equal(await upgradeStatus(url, authHeaders('neg')), 404);
  assert.equal(await upgradeStatus(wsUrl(gateways[0], `${HUB}?id=nosuchtoken`), authHeaders('neg')), 404);
  // a token of one gateway is unknown to another
  const m = await negotiate();
  if (gw2 !== 0)
    assert.equal(await upgradeStatus(wsUrl(gateways[gw2], `${HUB}?id=${m.json.connectionToken}`), authHeaders('neg')), 404);
  const r = await fetch(gateways[0] + `${HUB}?id=nosuchtoken`, { headers: authHeaders('neg') });
  assert.equal(r.status, 404);
});

test('a handshake asking for another protocol gets an error record and a close', async () => {
  const s = await raw();
  s.send(JSON.stringify({ protocol: 'messagepack', version: 1 }) + RS);
  const e = await waitFor(s.recs, (r) => r.error, { what: 'handshake error' });
  assert.equal(e.error, "Requested protocol 'messagepack' is not available.");
  const cl = await s.closed;
  assert.notEqual(cl.code, 1000);
});

test('records split across frames and several in one frame', async () => {
  const u = uid('split');
  const s = await raw(HUB, { user: u });
  const hs = JSON.stringify({ protocol: 'json', version: 1 }) + RS;
  s.send(hs.slice(0, 7));
  await sleep(50);
  s.send(hs.slice(7));
  await waitFor(s.recs, (r) => Object.keys(r).length === 0, { what: 'handshake response' });
  const a = JSON.stringify({ type: 1, invocationId: '1', target: 'RegisterUser', arguments: [u] }) + RS;
  const b = JSON.stringify({ type: 1, invocationId: '2', target: 'Nope', arguments: [] }) + RS;
  const c = JSON.stringify({ type: 6 }) + RS;
  const all = a + b + c;
  s.send(all.slice(0, 20));
  await sleep(30);
  s.send(all.slice(20, a.length + 5));
  await sleep(30);
  s.send(all.slice(a.length + 5));
  const reg = await waitFor(s.recs, (r) => r.type === 1 && r.target === 'UserRegistered', { what: 'UserRegistered' });
  assert.equal(reg.arguments[0].user_id, u);
  const c1 = await waitFor(s.recs, (r) => r.type === 3 && r.invocationId === '1', { what: 'completion 1' });
  assert.equal(c1.error, undefined);
  const c2 = await waitFor(s.recs, (r) => r.type === 3 && r.invocationId === '2', { what: 'completion 2' });
  assert.equal(c2.error, NO_METHOD('Nope'));
  // the answers keep the order of the calls
  assert.ok(s.recs.indexOf(reg) < s.recs.indexOf(c1) && s.recs.indexOf(c1) < s.recs.indexOf(c2));
  s.ws.close();
});

test('a malformed record closes that connection with an error, and only that one', async () => {
  const other = await registered(uid('ok'));
  const s = await raw();
  s.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
  await waitFor(s.recs, (r) => Object.keys(r).length === 0, { what: 'handshake response' });
  s.send('{"type":1,"target":"RegisterUser","arguments":' + RS);
  const cl = await waitFor(s.recs, (r) => r.type === 7, { what: 'Close record' });
  assert.match(cl.error, /^Connection closed with an error\./);
  assert.equal(cl.allowReconnect, undefined);
  assert.equal((await s.closed).code, 1002);
  await other.conn.invoke('JoinUserTracking', uid('x'));
  assert.equal(other.conn.state, signalR.HubConnectionState.Connected);
});

test('a record over max_message_bytes closes the connection 1009', async () => {
  const s = await raw();
  s.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
  await waitFor(s.recs, (r) => Object.keys(r).length === 0, { what: 'handshake response' });
  const chunk = 'x'.repeat(30000);
  s.send('{"type":1,"target":"' + chunk);
  s.send(chunk);
  s.send(chunk);
  assert.equal((await s.closed).code, 1009);
});

test('invocations count against the rate limit; refused ones fail, the connection stays', async () => {
  const s = await raw();
  s.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
  await waitFor(s.recs, (r) => Object.keys(r).length === 0, { what: 'handshake response' });
  let burst = '';
  for (let i = 0; i < 80; i++)
    burst += JSON.stringify({ type: 1, invocationId: `r${i}`, target: 'LeaveUserTracking', arguments: ['x'] }) + RS;
  s.send(burst);
  await waitFor(s.recs, (r) => r.type === 3 && r.invocationId === 'r79', { what: 'last completion' });
  const done = s.recs.filter((r) => r.type === 3);
  assert.equal(done.length, 80);
  const limited = done.filter((r) => /rate limited/.test(r.error || ''));
  assert.ok(limited.length >= 20 && limited.length <= 31, `${limited.length} refused`);
  assert.equal(limited[0].error,
    "An unexpected error occurred invoking 'LeaveUserTracking' on the server. HubException: too many messages (rate limited)");
  await sleep(1100);
  s.send(JSON.stringify({ type: 1, invocationId: 'after', target: 'LeaveUserTracking', arguments: ['x'] }) + RS);
  const after = await waitFor(s.recs, (r) => r.invocationId === 'after', { what: 'completion after a pause' });
  assert.equal(after.error, undefined);
  s.ws.close();
});

test('CORS: preflight and negotiate echo the Origin with credentials', async () => {
  const origin = 'http://localhost:5173';
  const pre = await fetch(gateways[0] + HUB + '/negotiate?negotiateVersion=1', {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, x-requested-with, x-signalr-user-agent',
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization, x-requested-with, x-signalr-user-agent');
  const n = await negotiate(HUB, '?negotiateVersion=1', { origin });
  assert.equal(n.status, 200);
  assert.equal(n.headers.get('access-control-allow-origin'), origin);
  assert.equal(n.headers.get('access-control-allow-credentials'), 'true');
});

test('jwt: the token rides in accessTokenFactory; RegisterUser with another id is refused', { skip: !jwt }, async () => {
  const u = uid('me'), other = uid('other'), t = uid('trk');
  const tr = await registered(t);
  await tr.conn.invoke('JoinUserTracking', other);
  const c = await hub(u);
  await c.conn.invoke('RegisterUser', other);
  const f = await waitFor(c.seen, (m) => m.ev === 'UserRegistrationFailed', { what: 'UserRegistrationFailed' });
  assert.equal(f.user_id, other);
  assert.ok(f.error);
  await expectNone(tr.seen, (m) => m.user_id === other, { ms: 600, what: `${other} online` });
  assert.equal(c.seen.filter((m) => m.ev === 'UserRegistered').length, 0);
  await c.conn.invoke('RegisterUser', u);
  await waitFor(c.seen, (m) => m.ev === 'UserRegistered' && m.user_id === u, { what: 'UserRegistered' });
});

test('jwt: no token or a bad one is 401 at negotiate and at the upgrade', { skip: !jwt }, async () => {
  const r = await fetch(gateways[0] + HUB + '/negotiate?negotiateVersion=1', { method: 'POST' });
  assert.equal(r.status, 401);
  const bad = await fetch(gateways[0] + HUB + '/negotiate?negotiateVersion=1',
    { method: 'POST', headers: { authorization: 'Bearer x.y.z' } });
  assert.equal(bad.status, 401);
  assert.equal(await upgradeStatus(wsUrl(gateways[0], HUB)), 401);
  // browsers put the token in access_token=
  const u = uid('qs');
  assert.equal(await upgradeStatus(wsUrl(gateways[0], `${HUB}?access_token=${token(u)}`)), 101);
  // the negotiated identity carries over to a WebSocket without a token
  const n = await negotiate(HUB, '?negotiateVersion=1', { authorization: `Bearer ${token(u)}` });
  assert.equal(await upgradeStatus(wsUrl(gateways[0], `${HUB}?id=${n.json.connectionToken}`)), 101);
  // ... and a token of another user on that WebSocket is refused
  const m = await negotiate(HUB, '?negotiateVersion=1', { authorization: `Bearer ${token(u)}` });
  assert.equal(await upgradeStatus(wsUrl(gateways[0], `${HUB}?id=${m.json.connectionToken}`),
    { authorization: `Bearer ${token(uid('else'))}` }), 403);
});

// A page on another origin (this test's own HTTP server) running the
// client's browser bundle in Chromium: CORS preflight and credentials on
// negotiate, access_token= on the WebSocket (jwt).
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
test('a browser page on another origin (Chromium) registers and is tracked', { skip: !CHROMIUM && 'no chromium' }, async () => {
  const bundle = readFileSync(createRequire(import.meta.url).resolve('@microsoft/signalr/dist/browser/signalr.js'));
  const page = '<!doctype html><script src="/signalr.js"></script>';
  const srv = createServer((req, res) => {
    const js = req.url === '/signalr.js';
    res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? bundle : page);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${srv.address().port}`;
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const t = uid('trk'), u = uid('browser');
    const tr = await registered(t);
    await tr.conn.invoke('JoinUserTracking', u);
    const tab = await browser.newPage();
    await tab.goto(origin + '/');
    const got = await tab.evaluate(async (url, tok, user) => {
      /* global signalR */
      const conn = new signalR.HubConnectionBuilder()
        .withUrl(url, tok ? { accessTokenFactory: () => tok } : {})
        .configureLogging(signalR.LogLevel.None)
        .build();
      const ev = [];
      conn.on('UserRegistered', (e) => ev.push(e));
      await conn.start();
      await conn.invoke('RegisterUser', user);
      window.hub = conn;
      return { ev, id: conn.connectionId };
    }, gateways[gw2] + HUB, jwt ? token(u) : null, u);
    assert.ok(got.id, 'negotiated from the browser');
    assert.deepEqual(got.ev.map((e) => e.user_id), [u]);
    await waitFor(tr.seen, statusOf(u, 'online'), { what: `${u} online (browser)` });
    const n = tr.seen.length;
    await tab.close();  // the tab goes away: unclean, grace applies
    await expectNone(tr.seen, statusOf(u, 'offline'), { from: n, ms: graceMs * 0.5, what: 'offline before grace' });
    await waitFor(tr.seen, statusOf(u, 'offline'), { from: n, ms: graceMs + 5000, what: `${u} offline` });
    await tr.conn.stop();
  } finally {
    await browser.close();
    srv.close();
  }
});

test('keep-alive: a Ping within 15 s of silence; a silent client is dropped at 30 s; an idle real client stays', async () => {
  const s = await silent;
  const ping = await waitFor(s.recs, (r) => r.type === 6, { ms: 20000, what: 'Ping' });
  assert.ok(ping);
  const cl = await Promise.race([s.closed, sleep(40000).then(() => null)]);
  assert.ok(cl, 'closed');
  const after = cl.at - s.t0;
  assert.ok(after >= 29000 && after <= 33000, `dropped after ${after} ms`);
  const rec = s.recs.find((r) => r.type === 7);
  assert.match(rec.error, /timeout/);
  const { u, c } = await idle;
  const wait = started + 36000 - Date.now();
  if (wait > 0) await sleep(wait);
  assert.equal(c.conn.state, signalR.HubConnectionState.Connected, 'idle client still connected');
  const cur = await c.conn.invoke('JoinUserTracking', u);
  assert.equal(cur.status, 'online');
});
