// The Node `ws` peer for switchboard-bench: an equivalent broadcast hub, kept as lean as
// a careful Node developer would write it, speaking the subset of switchboard's protocol
// the bench uses.
//
// - GET /ws?channels=a,b: sends `welcome`, then `subscribed` for `broadcast` and each
//   named channel (a missing `channels` means `lobby`), like switchboard.
// - `publish` {channel, data}: assigns the channel's next `seq`, renders the delivered
//   `message` JSON once into one Buffer and sends that Buffer to every subscriber.
// - GET /ws/echo: echoes every message.
// One process, one thread (Node's model); no per-message compression (ws's default for
// servers); prints "ws-broadcast listening on http://ADDR" once it listens.
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 8001;
const epoch = crypto.randomUUID();

const channels = new Map(); // name -> { seq, members: Set<WebSocket> }
function channel(name) {
  let c = channels.get(name);
  if (!c) {
    c = { seq: 0, members: new Set() };
    channels.set(name, c);
  }
  return c;
}

const hub = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
const echo = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

hub.on('connection', (ws, request) => {
  const id = crypto.randomUUID();
  const query = new URL(request.url, 'http://x').searchParams;
  const names = query.has('channels')
    ? query.get('channels').split(',').filter((n) => n.length > 0)
    : ['lobby'];
  const joined = ['broadcast', ...names];
  ws.send(JSON.stringify({ type: 'welcome', connection_id: id, server: 'ws-broadcast', epoch, ts: Date.now() }));
  for (const name of joined) {
    const c = channel(name);
    c.members.add(ws);
    ws.send(JSON.stringify({ type: 'subscribed', channel: name, epoch, seq: c.seq, resumed: false, recovered: 0 }));
  }
  ws.on('message', (raw, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', code: 100, message: 'malformed JSON' }));
      return;
    }
    if (msg.type === 'publish' && typeof msg.channel === 'string') {
      const c = channel(msg.channel);
      c.seq += 1;
      const out = Buffer.from(JSON.stringify({
        type: 'message', channel: msg.channel, seq: c.seq, ts: Date.now(), data: msg.data, from: id,
      }));
      for (const member of c.members) member.send(out, { binary: false });
    } else if (msg.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', id: msg.id, ts: Date.now() }));
    } else {
      ws.send(JSON.stringify({ type: 'error', code: 102, message: 'unsupported type' }));
    }
  });
  ws.on('close', () => {
    for (const name of joined) channel(name).members.delete(ws);
  });
});

echo.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});
server.on('upgrade', (request, socket, head) => {
  const path = request.url.split('?')[0];
  const target = path === '/ws' ? hub : path === '/ws/echo' ? echo : null;
  if (!target) {
    socket.destroy();
    return;
  }
  target.handleUpgrade(request, socket, head, (ws) => target.emit('connection', ws, request));
});
server.listen(port, '127.0.0.1', () => {
  const { address, port: bound } = server.address();
  console.log(`ws-broadcast listening on http://${address}:${bound}`);
});
process.on('SIGTERM', () => process.exit(0));
