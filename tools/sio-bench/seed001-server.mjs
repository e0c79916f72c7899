// A plain Node socket.io 4.8 server doing what seed 001 does: the baseline
// of the "Socket.IO broadcast" benchmark (docs/BENCHMARKS.md). Not part of
// presence and not a test.
//
//   node seed001-server.mjs [--port N] [--stale-ms MS]
//
// Seed 001's server: an in-memory map of users; every status change is
// broadcast to every connected client (io.emit).
//   userOnline {userId, userType, userName} -> the user is online (its socket
//     remembered), userStatusChanged {userId, status:"online", lastSeen} to all
//   userHeartbeat {userId} -> lastSeen = now, and userStatusChanged to all
//     again (the seed re-broadcasts on every heartbeat)
//   userOffline {userId} -> offline, userStatusChanged to all
//   getOnlineUsers -> onlineUsersList [{userId, status, lastSeen, userType,
//     userName}] to the caller only
//   disconnect -> the socket's user goes offline, userStatusChanged to all
//   a sweep marks users with lastSeen older than --stale-ms offline (the
//     seed's 60 s stale sweep; --stale-ms 0 turns it off)
// One addition, unused by seed clients: an event emitted with an
// acknowledgement callback gets {ok: true} (presence answers acks too; the
// bench driver uses it only while setting up).
//
// Prints "listening PORT" once it accepts connections.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
}
const port = Number(opt('--port', 3001));
const staleMs = Number(opt('--stale-ms', 60000));

const httpServer = createServer();
const io = new Server(httpServer, { cors: { origin: '*' } });

// userId -> {userId, userType, userName, status, lastSeen, socketId}
const users = new Map();

function change(u, status) {
  u.status = status;
  u.lastSeen = new Date().toISOString();
  io.emit('userStatusChanged', { userId: u.userId, status, lastSeen: u.lastSeen });
}

function ack(cb) {
  if (typeof cb === 'function') cb({ ok: true });
}

io.on('connection', (socket) => {
  socket.on('userOnline', (data, cb) => {
    const { userId, userType, userName } = data || {};
    if (userId === undefined) return;
    const u = users.get(userId) || { userId };
    u.userType = userType;
    u.userName = userName;
    u.socketId = socket.id;
    socket.data.userId = userId;
    users.set(userId, u);
    change(u, 'online');
    ack(cb);
  });
  socket.on('userHeartbeat', (data, cb) => {
    const u = users.get(data && data.userId);
    if (u) {
      u.socketId = socket.id;
      change(u, 'online');
    }
    ack(cb);
  });
  socket.on('userOffline', (data, cb) => {
    const u = users.get(data && data.userId);
    if (u) change(u, 'offline');
    ack(cb);
  });
  socket.on('getOnlineUsers', (cb) => {
    const list = [];
    for (const u of users.values()) {
      if (u.status === 'online') {
        list.push({ userId: u.userId, status: u.status, lastSeen: u.lastSeen,
          userType: u.userType, userName: u.userName });
      }
    }
    if (typeof cb === 'function') cb(list);
    else socket.emit('onlineUsersList', list);
  });
  socket.on('disconnect', () => {
    const u = users.get(socket.data.userId);
    if (u && u.socketId === socket.id && u.status === 'online') change(u, 'offline');
  });
});

if (staleMs > 0) {
  setInterval(() => {
    const now = Date.now();
    for (const u of users.values()) {
      if (u.status === 'online' && now - Date.parse(u.lastSeen) > staleMs) change(u, 'offline');
    }
  }, Math.min(staleMs, 30000)).unref();
}

httpServer.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
