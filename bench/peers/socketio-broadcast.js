// The Socket.IO peer for switchboard-bench: the same broadcast hub on Socket.IO 4 (rooms
// for channels), over its WebSocket transport only (no HTTP long-polling upgrade step).
//
// - connect to /socket.io/?EIO=4&transport=websocket&channels=a,b: after the namespace
//   connect, the server emits `welcome`, then joins room `broadcast` and each named
//   channel (a missing `channels` means `lobby`), emitting `subscribed` for each.
// - event `publish` {channel, data}: assigns the channel's next `seq` and emits one
//   `message` event {type, channel, seq, ts, data, from} to the channel's room (Socket.IO
//   encodes a room broadcast once and writes the same packet to every member).
// Per-message compression off, like the other servers; prints
// "socketio-broadcast listening on http://ADDR" once it listens.
'use strict';

const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 8002;
const epoch = crypto.randomUUID();
const seqs = new Map(); // channel -> last seq

const server = http.createServer();
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 64 * 1024,
  serveClient: false,
});

io.on('connection', (socket) => {
  const query = socket.handshake.query;
  const names = typeof query.channels === 'string'
    ? query.channels.split(',').filter((n) => n.length > 0)
    : ['lobby'];
  socket.emit('welcome', { type: 'welcome', connection_id: socket.id, server: 'socketio-broadcast', epoch });
  for (const name of ['broadcast', ...names]) {
    socket.join(name);
    socket.emit('subscribed', { type: 'subscribed', channel: name, epoch, seq: seqs.get(name) || 0 });
  }
  socket.on('publish', (msg) => {
    if (!msg || typeof msg.channel !== 'string') return;
    const seq = (seqs.get(msg.channel) || 0) + 1;
    seqs.set(msg.channel, seq);
    io.to(msg.channel).emit('message', {
      type: 'message', channel: msg.channel, seq, ts: Date.now(), data: msg.data, from: socket.id,
    });
  });
});

server.listen(port, '127.0.0.1', () => {
  const { address, port: bound } = server.address();
  console.log(`socketio-broadcast listening on http://${address}:${bound}`);
});
process.on('SIGTERM', () => process.exit(0));
