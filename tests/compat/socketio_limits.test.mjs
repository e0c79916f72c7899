// Limits of the Socket.IO drop-in (PROTOCOL.md §7) on gateways with
// max_connections 3 and hello_timeout_ms 1000 (CMakeLists.txt): Engine.IO
// sessions count against the cap whatever their transport, and a session
// without its Socket.IO CONNECT in time is ended.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { gateways, wsUrl, waitFor } from './lib.mjs';
import { eio, eioOpen, eioWs, closeAll } from './sio.mjs';

after(closeAll);

test('Engine.IO sessions count against max_connections: polling and WebSocket alike; v1 upgrades too', async () => {
  const a = await eioOpen(0);
  const b = await eioOpen(0);
  const w = await eioWs(0);
  let r = await eio(0, { transport: 'polling' });
  assert.equal(r.status, 503);
  await assert.rejects(eioWs(0), /HTTP 503/);
  const v1 = new WebSocket(wsUrl(gateways[0], '/v1/ws?user_id=x'));
  v1.on('error', () => {});
  const status = await new Promise((res) => {
    v1.once('unexpected-response', (req, resp) => { req.destroy(); res(resp.statusCode); });
    v1.once('open', () => { v1.terminate(); res(101); });
  });
  assert.equal(status, 503);
  // a session that ends gives its place back (no CONNECT: ended after 1 s)
  const deadline = Date.now() + 5000;
  do {
    r = await eio(0, { transport: 'polling' });
    if (r.status === 200) break;
    await new Promise((res) => setTimeout(res, 100));
  } while (Date.now() < deadline);
  assert.equal(r.status, 200, 'room again once the sessions without CONNECT ended');
  for (const sid of [a.sid, b.sid]) {
    // unknown by now, or held until its end: then the close packet
    const g = await eio(0, { transport: 'polling', sid });
    if (g.status === 200) assert.equal(g.text, '1');
    else assert.deepEqual(JSON.parse(g.text), { code: 1, message: 'Session ID unknown' });
  }
  await waitFor([w], (x) => x.closed, { what: 'WebSocket session closed without CONNECT' });
});
