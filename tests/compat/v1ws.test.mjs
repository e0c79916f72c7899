// The v1 WebSocket through the `ws` library: the baseline every drop-in
// test compares with, and a check that this suite's system is live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { gateways, auth, uid, token, wsUrl, waitFor, api } from './lib.mjs';

export async function v1client(user, gw = 0, hello = {}) {
  const q = auth === 'jwt' ? `?token=${token(user)}` : `?user_id=${encodeURIComponent(user)}`;
  const ws = new WebSocket(wsUrl(gateways[gw], `/v1/ws${q}`));
  const seen = [];
  ws.on('message', (m) => seen.push(JSON.parse(m.toString())));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  ws.send(JSON.stringify({ type: 'hello', id: 'h', ...hello }));
  await waitFor(seen, (m) => m.type === 'welcome', { what: 'welcome' });
  return { ws, seen, send: (m) => ws.send(JSON.stringify(m)) };
}

test('two v1 clients on two gateways see each other', async () => {
  const a = uid('a'), b = uid('b'), thread = uid('t');
  assert.equal((await api('PUT', `/v1/threads/${thread}/members`, { user_ids: [a, b] })).status, 200);
  const ca = await v1client(a, 0);
  const cb = await v1client(b, gateways.length > 1 ? 1 : 0);
  await waitFor(ca.seen, (m) => m.type === 'presence' && m.user_id === b && m.status === 'online',
    { what: `${b} online at ${a}` });
  cb.send({ type: 'bye' });
  await waitFor(ca.seen, (m) => m.type === 'presence' && m.user_id === b && m.status === 'offline',
    { what: `${b} offline at ${a}` });
  ca.ws.close();
});
