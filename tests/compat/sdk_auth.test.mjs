// The JavaScript SDK under auth jwt: the token provider is asked before
// every connect and before `exp` (refresh), a session whose refresh failed
// comes back with a fresh token without a flicker, and a refused token or
// an admin's kick end the client for good (no reconnect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { auth, token, uid, api, waitFor, expectNone, sleep } from './lib.mjs';
import { sdkClient, rawClient, waitState } from './sdklib.mjs';

if (auth !== 'jwt') throw new Error('sdk_auth runs under auth jwt (prs_add_compat AUTH jwt)');

const nowS = () => Math.floor(Date.now() / 1000);
const states = (cl, from = 0) => cl.events.slice(from).filter((e) => e.type === 'state');

test('the provider is asked again before exp and the session lives on (refresh)', async () => {
  const a = uid('a'), w = uid('w');
  const calls = [];
  const ca = sdkClient(a, {
    token: async () => { calls.push(Date.now()); return token(a, { exp: nowS() + 4 }); },
  });
  await ca.connect();
  const sid = ca.c.sessionId;
  const rw = await rawClient(w, 1);
  rw.send({ type: 'watch', id: 'w', user_ids: [a] });
  await waitFor(rw.seen, (m) => m.id === 'w');
  const from = rw.seen.length;
  // three token lifetimes
  await sleep(11000);
  assert.ok(calls.length >= 4, `provider called ${calls.length} times`);
  assert.equal(ca.c.sessionId, sid, 'same session throughout');
  assert.deepEqual(states(ca).map((e) => e.state), ['connecting', 'online']);
  assert.equal(rw.seen.slice(from).filter((m) => m.type === 'presence').length, 0);
  ca.c.close();
  rw.ws.close();
});

test('a refused refresh: at exp the gateway closes, the client returns with a fresh token, watchers see nothing', async () => {
  const a = uid('a'), w = uid('w');
  let n = 0;
  const ca = sdkClient(a, {
    token: async () => {
      n++;
      // the first refresh gets a token for someone else: refused
      if (n === 2) return token(uid('other'), { exp: nowS() + 60 });
      return token(a, { exp: nowS() + 3 });
    },
  });
  await ca.connect();
  const sid = ca.c.sessionId;
  const rw = await rawClient(w, 1);
  rw.send({ type: 'watch', id: 'w', user_ids: [a] });
  await waitFor(rw.seen, (m) => m.id === 'w');
  const from = rw.seen.length;
  const off = await waitState(ca, 'offline', { ms: 8000 });
  assert.equal(off.reason, 'token_expired');
  assert.equal(off.code, 1008);
  assert.equal(off.retryInMs, 0);
  await waitState(ca, 'online', { from: ca.events.indexOf(off) });
  assert.notEqual(ca.c.sessionId, sid);
  assert.ok(ca.events.some((e) => e.type === 'error' && e.code === 'unauthorized'), 'the refused refresh was reported');
  await expectNone(rw.seen, (m) => m.type === 'presence' && m.user_id === a, { from, ms: 1000, what: 'flicker' });
  ca.c.close();
  rw.ws.close();
});

test('a refused token ends the client: state closed unauthorized, no retries', async () => {
  const a = uid('a');
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const body = Buffer.from(JSON.stringify({ sub: a, exp: nowS() + 60 })).toString('base64url');
  const bad = `${head}.${body}.${createHmac('sha256', 'not-the-secret').update(`${head}.${body}`).digest('base64url')}`;
  let calls = 0;
  const ca = sdkClient(a, { token: () => { calls++; return bad; } });
  await assert.rejects(ca.connect(), (e) => e.code === 'unauthorized');
  assert.equal(ca.c.state, 'closed');
  const closed = states(ca).at(-1);
  assert.equal(closed.reason, 'unauthorized');
  assert.equal(closed.code, 1008);
  await sleep(1500);
  assert.equal(calls, 1);
  assert.equal(states(ca).filter((e) => e.state === 'connecting').length, 1);
});

test('an admin kick ends the client: state closed kicked (4001), no reconnect', async () => {
  const a = uid('a');
  const ca = sdkClient(a);
  await ca.connect();
  const r = await api('DELETE', `/v1/users/${a}/sessions`);
  assert.equal(r.status, 200);
  assert.equal(r.json.ended, 1);
  const closed = await waitState(ca, 'closed');
  assert.equal(closed.reason, 'kicked');
  assert.equal(closed.code, 4001);
  await sleep(1500);
  assert.equal(states(ca).filter((e) => e.state === 'connecting').length, 1);
  assert.deepEqual((await api('GET', `/v1/users/${a}/sessions`)).json.sessions, []);
  await assert.rejects(ca.c.query([a]), (e) => e.code === 'closed');
});
