// The JavaScript SDK (clients/js/presence-client.js) under Node against a
// real system (auth none): events and requests, reconnect across a
// SIGKILLed gateway without stale state, backoff bounds and its reset, the
// spread of reconnects after a gateway's 1001, typing repeats. The token
// paths are in sdk_auth.test.mjs (auth jwt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { gateways, graceMs, uid, api, waitFor, expectNone, sleep } from './lib.mjs';
import {
  PresenceClient, sdkClient, rawClient, killGateway, startGateway, waitState, presenceOf,
} from './sdklib.mjs';
import { backoffDelay, tokenExpiry } from '../../clients/js/presence-client.js';

const presences = (cl, user, from = 0) =>
  cl.events.slice(from).filter((e) => e.type === 'presence' && e.p.user_id === user);

test('backoffDelay: full jitter below min(cap, base * 2^n)', () => {
  const hi = () => 0.9999999, lo = () => 0;
  assert.equal(backoffDelay(0, 500, 30000, lo), 0);
  assert.equal(backoffDelay(0, 500, 30000, hi), 499);
  assert.equal(backoffDelay(1, 500, 30000, hi), 999);
  assert.equal(backoffDelay(5, 500, 30000, hi), 15999);
  assert.equal(backoffDelay(6, 500, 30000, hi), 29999); // 32000 capped
  assert.equal(backoffDelay(60, 500, 30000, hi), 29999);
  for (let n = 0; n < 12; n++)
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(n);
      assert.ok(d >= 0 && d < Math.min(30000, 500 * 2 ** n), `attempt ${n}: ${d}`);
    }
});

test('tokenExpiry reads exp of a JWT', () => {
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.equal(tokenExpiry(`${b({ alg: 'HS256' })}.${b({ sub: 'é', exp: 1700000000 })}.x`), 1700000000000);
  assert.equal(tokenExpiry('garbage'), null);
  assert.equal(tokenExpiry(`${b({})}.${b({ sub: 'x' })}.x`), null);
});

test('connect, watch, events, query, listOnline, setStatus', async () => {
  const a = uid('a'), b = uid('b'), t = uid('t');
  assert.equal((await api('PUT', `/v1/threads/${t}/members`, { user_ids: [a, b] })).status, 200);
  const ca = sdkClient(a, { meta: { user_name: 'Ann' } });
  await ca.connect();
  assert.equal(ca.c.state, 'online');
  assert.equal(ca.c.userId, a);
  const w = await ca.c.watch([b]);
  assert.equal(w.length, 1);
  assert.equal(w[0].status, 'offline');
  const rb = await rawClient(b, 1);
  await presenceOf(ca, b, (p) => p.status === 'online');
  const online = await ca.c.listOnline(t);
  assert.deepEqual(online.map((p) => p.user_id).sort(), [a, b].sort());
  rb.send({ type: 'set_status', status: 'dnd', text: 'focus' });
  const ev = await presenceOf(ca, b, (p) => p.status === 'dnd');
  assert.equal(ev.p.text, 'focus');
  assert.equal(ev.prev.status, 'online');
  await ca.c.setStatus('away', 'lunch');
  await waitFor(rb.seen, (m) => m.type === 'presence' && m.user_id === a && m.status === 'away' && m.text === 'lunch',
    { what: 'a away at b' });
  const q = await ca.c.query([a]);
  assert.equal(q[0].meta.user_name, 'Ann');
  assert.equal(ca.c.me.status, 'away');
  ca.c.close();
  assert.equal(ca.c.state, 'closed');
  await waitFor(rb.seen, (m) => m.type === 'presence' && m.user_id === a && m.status === 'offline',
    { ms: graceMs / 2, what: 'a offline at once after bye' });
  rb.ws.close();
});

test('reconnect across a SIGKILLed gateway: only real differences, no stale state', async () => {
  const a = uid('a'), b = uid('b'), c = uid('c'), d = uid('d'), w = uid('w');
  // a on gw1 only, watching b, c, d (on gw2); w on gw2 watches a
  const ca = sdkClient(a, { url: gateways[0], backoffBaseMs: 200, backoffCapMs: 1000 });
  await ca.connect();
  const rb = await rawClient(b, 1), rc = await rawClient(c, 1), rd = await rawClient(d, 1);
  await ca.c.watch([b, c, d]);
  for (const u of [b, c, d]) assert.equal(ca.c.get(u).status, 'online');
  const rw = await rawClient(w, 1);
  rw.send({ type: 'watch', id: 'w', user_ids: [a] });
  await waitFor(rw.seen, (m) => m.id === 'w');

  const mark = ca.events.length;
  await killGateway(0, 'KILL');
  await waitState(ca, 'offline', { from: mark });
  // while a is away: b changes, c leaves, d stays as it was
  rb.send({ type: 'set_status', id: 's', status: 'dnd', text: 'deep work' });
  await waitFor(rb.seen, (m) => m.id === 's');
  rc.send({ type: 'bye' });
  await rc.closed;
  await sleep(300);
  // still retrying with backoff while the gateway is down
  const retries = ca.events.slice(mark).filter((e) => e.type === 'state' && e.state === 'offline');
  assert.ok(retries.length >= 1);
  for (const r of retries) assert.ok(r.retryInMs >= 0 && r.retryInMs < 1000, JSON.stringify(r));

  await startGateway(0);
  await waitState(ca, 'online', { from: mark, ms: 15000 });
  await presenceOf(ca, b, (p) => p.status === 'dnd', { from: mark });
  await presenceOf(ca, c, (p) => p.status === 'offline', { from: mark });
  await sleep(500);
  // exactly one event per real difference, none for d
  assert.equal(presences(ca, b, mark).length, 1);
  assert.equal(presences(ca, c, mark).length, 1);
  assert.equal(presences(ca, d, mark).length, 0);
  assert.equal(ca.c.get(b).text, 'deep work');
  assert.equal(ca.c.get(c).is_online, false);
  assert.equal(ca.c.get(d).status, 'online');
  // the watches came back: a later change reaches a
  rd.send({ type: 'set_status', status: 'away' });
  await presenceOf(ca, d, (p) => p.status === 'away', { from: mark });
  // and the registry holds one session of a, not a ghost from gw1
  const end = Date.now() + 15000;
  let sessions;
  for (;;) {
    sessions = (await api('GET', `/v1/users/${a}/sessions`)).json.sessions;
    if (sessions.length === 1 || Date.now() > end) break;
    await sleep(200);
  }
  assert.equal(sessions.length, 1, JSON.stringify(sessions));
  assert.equal(sessions[0].session_id, ca.c.sessionId);
  ca.c.close();
  for (const r of [rb, rd, rw]) r.ws.close();
});

test('with two gateway URLs a client moves to the other one within the grace: watchers see nothing', async () => {
  const a = uid('a'), w = uid('w');
  const ca = sdkClient(a, { url: [gateways[0], gateways[1]], random: () => 0 });
  // random 0: starts on the first URL, retries at once
  await ca.connect();
  assert.equal(ca.events.find((e) => e.state === 'online').url, new URL('/v1/ws', gateways[0].replace('http', 'ws')).toString());
  const rw = await rawClient(w, 1);
  rw.send({ type: 'watch', id: 'w', user_ids: [a] });
  await waitFor(rw.seen, (m) => m.id === 'w');
  const mark = ca.events.length, seenMark = rw.seen.length;
  await killGateway(0, 'KILL');
  const on = await waitState(ca, 'online', { from: mark });
  assert.match(on.url, new RegExp(`:${new URL(gateways[1]).port}/`));
  await expectNone(rw.seen, (m) => m.type === 'presence' && m.user_id === a,
    { from: seenMark, ms: graceMs + 3500, what: 'a flicker at w' });
  await startGateway(0);
  ca.c.close();
  rw.ws.close();
});

test('backoff: retries grow within bounds against a closed port, and reset after a stable session', async () => {
  // a port nobody listens on
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  const cl = sdkClient(uid('x'), { url: `ws://127.0.0.1:${port}/v1/ws`, backoffBaseMs: 50, backoffCapMs: 400 });
  cl.c.connect().catch(() => {});
  await waitFor(cl.events, () => cl.events.filter((e) => e.state === 'offline').length >= 9,
    { ms: 8000, what: '9 retries' });
  cl.c.close();
  const offs = cl.events.filter((e) => e.state === 'offline');
  const conns = cl.events.filter((e) => e.state === 'connecting');
  offs.forEach((e, n) => {
    assert.equal(e.attempt, n + 1);
    assert.ok(e.retryInMs >= 0 && e.retryInMs < Math.min(400, 50 * 2 ** n), `retry ${n}: ${e.retryInMs}`);
    // the next attempt did wait that long
    if (conns[n + 1]) assert.ok(conns[n + 1].t - e.t >= e.retryInMs - 5, `waited ${conns[n + 1].t - e.t} < ${e.retryInMs}`);
  });

  // a session that lasted stableMs resets the counter; a short one does not
  const a = uid('a');
  const ca = sdkClient(a, { url: gateways[0], stableMs: 1500, backoffBaseMs: 100, backoffCapMs: 1000 });
  await ca.connect();
  let mark = ca.events.length;
  await killGateway(0, 'KILL');
  await waitFor(ca.events, () => ca.events.slice(mark).filter((e) => e.state === 'offline').length >= 3,
    { ms: 8000, what: '3 retries' });
  await startGateway(0);
  await waitState(ca, 'online', { from: mark, ms: 15000 });
  const before = ca.events.slice(mark).filter((e) => e.state === 'offline').length;
  mark = ca.events.length;
  await killGateway(0, 'KILL'); // online for far less than stableMs
  let first = await waitState(ca, 'offline', { from: mark });
  assert.equal(first.attempt, before + 1, 'a short session keeps counting');
  await startGateway(0);
  await waitState(ca, 'online', { from: mark, ms: 20000 });
  await sleep(1700);
  mark = ca.events.length;
  await killGateway(0, 'KILL');
  first = await waitState(ca, 'offline', { from: mark });
  assert.equal(first.attempt, 1, 'a stable session resets the backoff');
  assert.ok(first.retryInMs < 100);
  await startGateway(0);
  await waitState(ca, 'online', { from: mark, ms: 15000 });
  ca.c.close();
});

test('spread after 1001: clients of a stopping gateway come back over 0-2 s, not at once', async () => {
  const n = 24;
  const cls = [];
  for (let i = 0; i < n; i++) {
    // the first draw picks the starting URL: all start on gw1; the
    // jitter after that is Math.random's
    let first = true;
    const random = () => (first ? ((first = false), 0) : Math.random());
    cls.push(sdkClient(uid('s'), { url: [gateways[0], gateways[1]], random }));
  }
  await Promise.all(cls.map((cl) => cl.connect()));
  const gw1Port = new URL(gateways[0]).port;
  const on1 = cls.filter((cl) => cl.events.find((e) => e.state === 'online').url.includes(`:${gw1Port}/`));
  assert.equal(on1.length, n);
  const marks = on1.map((cl) => cl.events.length);
  const t0 = Date.now();
  await killGateway(0, 'TERM');
  const offs = await Promise.all(on1.map((cl, i) => waitState(cl, 'offline', { from: marks[i] })));
  const ons = await Promise.all(on1.map((cl, i) => waitState(cl, 'online', { from: marks[i], ms: 10000 })));
  for (const o of offs) {
    assert.equal(o.code, 1001);
    assert.equal(o.reason, 'server_restart');
    assert.ok(o.retryInMs >= 0 && o.retryInMs < 2000, `retry ${o.retryInMs}`);
  }
  const delays = offs.map((o) => o.retryInMs).sort((x, y) => x - y);
  const back = ons.map((o) => o.t - t0).sort((x, y) => x - y);
  // uniform over 2 s: the spread of k samples is wide
  assert.ok(delays[delays.length - 1] - delays[0] > 500, `delays ${delays}`);
  assert.ok(back[back.length - 1] - back[0] > 500, `reconnects at ${back}`);
  for (const o of ons) assert.ok(!o.url.includes(`:${gw1Port}/`));
  await startGateway(0);
  for (const cl of cls) cl.c.close();
});

test('typing repeats while active (no expiry at the others), stops when not', async () => {
  const a = uid('a'), b = uid('b'), t = uid('t');
  await api('PUT', `/v1/threads/${t}/members`, { user_ids: [a, b] });
  const ca = sdkClient(a);
  await ca.connect();
  const cb = sdkClient(b, { url: gateways[1] });
  await cb.connect();
  ca.c.typing(t, true);
  ca.c.typing(t, true); // already active: no second message
  await waitFor(cb.events, (e) => e.type === 'typing' && e.user_id === a && e.active, { what: 'typing at b' });
  assert.deepEqual(cb.c.typers(t), [a]);
  // the server would expire it after 6 s without repeats
  await expectNone(cb.events, (e) => e.type === 'typing' && !e.active, { ms: 7500, what: 'typing expired' });
  ca.c.typing(t, false);
  await waitFor(cb.events, (e) => e.type === 'typing' && e.user_id === a && !e.active, { ms: 2000, what: 'typing stop' });
  assert.deepEqual(cb.c.typers(t), []);
  ca.c.close();
  cb.c.close();
});

test('requests made while disconnected wait for the next session', async () => {
  const a = uid('a'), b = uid('b');
  const ca = sdkClient(a, { url: gateways[0], backoffBaseMs: 100, backoffCapMs: 300 });
  await ca.connect();
  const mark = ca.events.length;
  await killGateway(0, 'KILL');
  await waitState(ca, 'offline', { from: mark });
  const p = ca.c.watch([b]);
  await sleep(300);
  await startGateway(0);
  const got = await p;
  assert.equal(got[0].user_id, b);
  const rb = await rawClient(b, 1);
  await presenceOf(ca, b, (x) => x.status === 'online');
  ca.c.close();
  rb.ws.close();
});

test('a chosen status outlives an outage longer than the grace (sent again in hello)', async () => {
  const a = uid('a'), w = uid('w');
  const ca = sdkClient(a, { url: gateways[0], backoffBaseMs: 100, backoffCapMs: 500 });
  await ca.connect();
  await ca.c.setStatus('dnd', 'on a call');
  const rw = await rawClient(w, 1);
  rw.send({ type: 'watch', id: 'w', user_ids: [a] });
  await waitFor(rw.seen, (m) => m.id === 'w' && m.users[0].status === 'dnd');
  const from = rw.seen.length, mark = ca.events.length;
  await killGateway(0, 'KILL');
  await waitFor(rw.seen, (m) => m.type === 'presence' && m.user_id === a && m.status === 'offline',
    { from, ms: graceMs + 10000, what: 'a offline after the grace' });
  await startGateway(0);
  await waitState(ca, 'online', { from: mark, ms: 15000 });
  const back = await waitFor(rw.seen, (m) => m.type === 'presence' && m.user_id === a && m.is_online,
    { from, what: 'a back' });
  assert.equal(back.status, 'dnd');
  assert.equal(back.text, 'on a call');
  ca.c.close();
  rw.ws.close();
});

test('the client in a browser-less Node needs a WebSocket', () => {
  if (typeof globalThis.WebSocket === 'function') return; // Node >= 22
  assert.throws(() => new PresenceClient({ url: gateways[0], userId: 'x' }), /WebSocket/);
});
