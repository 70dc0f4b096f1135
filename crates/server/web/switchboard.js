// switchboard.js: the JavaScript client for every switchboard transport, as an ES module.
//
//   import { Switchboard } from '/switchboard.js';
//   const sb = new Switchboard({ transport: 'websocket', channels: ['lobby'] });
//   sb.on('message', (msg, meta) => console.log(msg.type, msg, meta.bytes));
//   sb.start();
//   sb.send({ type: 'chat', user: 'ann', text: 'hello' });
//
// Transports: 'websocket' (GET /ws), 'sse' (GET /sse + POST /sse/message),
// 'long-poll' (POST /poll), 'short-poll' (POST /short-poll).
//
// Guarantees: reconnects with exponential backoff (250 ms doubling to 10 s, reset once a
// connection is open) and resumes every channel from the last `seq` seen: WebSocket sends
// `subscribe` with `since`/`epoch` after `welcome`; SSE passes the last event id
// (`Last-Event-ID` by EventSource itself, `?lastEventId=` after a manual reconnect);
// polling acknowledges with `cursor` and re-opens with per-channel `since`. Messages are
// delivered to listeners once each, in `seq` order per channel (a duplicate from a resume
// is dropped). Events: 'state' (idle|connecting|open|reconnecting|closed), 'message'
// (msg, meta {bytes, wire}), 'request' (polling round trips: {ms, count, empty, bytes}),
// 'error'.

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10000;
/// After a held long poll was cut short, wait this long before the next poll so the
/// server has noticed (otherwise it refuses the new one as concurrent, 409).
const ABORT_SETTLE_MS = 150;
/// Event types the server sends; EventSource needs a listener per named event.
export const MESSAGE_TYPES = ['welcome', 'chat', 'broadcast', 'message', 'join', 'leave', 'pong',
  'stats', 'subscribed', 'gap', 'unsubscribed', 'ack', 'presence', 'error'];

const encoder = new TextEncoder();
export const byteLength = (text) => encoder.encode(text).length;

/// The exact header of a WebSocket frame (RFC 6455 §5.2) for a text payload of `length`
/// bytes: FIN=1, opcode 0x1; masked (with a 4-byte key) when the client sends it.
export function wsFrameHeader(length, masked) {
  const bytes = [0x81];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) bytes.push(maskBit | length);
  else if (length < 65536) bytes.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    bytes.push(maskBit | 127);
    for (let shift = 56; shift >= 0; shift -= 8) bytes.push(Math.floor(length / 2 ** shift) & 0xff);
  }
  const headerLength = bytes.length + (masked ? 4 : 0);
  return { fin: 1, opcode: 1, masked, payloadLength: length, headerBytes: bytes, headerLength };
}

/// The exact `text/event-stream` bytes of one event as the server writes it.
export function sseEventText(type, data, id) {
  return (id ? `id: ${id}\n` : '') + `event: ${type}\n` + data.split('\n').map((l) => `data: ${l}\n`).join('') + '\n';
}

export class Switchboard {
  constructor({ transport = 'websocket', channels = null, base = '', reconnect = true, interval = 1000 } = {}) {
    this.transport = transport;
    this.interval = interval;
    this.channels = channels;
    this.base = base || location.origin;
    this.autoReconnect = reconnect;
    this.listeners = {};
    this.state = 'idle';
    this.connectionId = null;
    // The session's secret (SSE and polling): what lets a request act for it. The public
    // connectionId (shown to others in `from` and presence) grants nothing.
    this.sessionToken = null;
    this.epoch = null;
    this.reconnects = 0;
    this.received = 0;
    this.positions = {};
    this.backoff = BACKOFF_MIN_MS;
    this.generation = 0;
  }

  on(event, fn) { (this.listeners[event] ||= []).push(fn); return this; }
  emit(event, ...args) { for (const fn of this.listeners[event] || []) fn(...args); }
  setState(state) { if (this.state !== state) { this.state = state; this.emit('state', state); } }

  start() {
    if (this.state !== 'idle' && this.state !== 'closed') return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    if (this.ws) { this.ws.close(1000); this.ws = null; }
    if (this.es) { this.es.close(); this.es = null; }
    if (this.abort) { this.abort.abort(); this.abort = null; }
    if (this.sessionToken && (this.transport === 'long-poll' || this.transport === 'short-poll')) {
      // End the session now rather than after the server's grace period.
      fetch(new URL('/poll/close', this.base), {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session_token: this.sessionToken }),
      }).catch(() => {});
    }
    this.connectionId = null;
    this.sessionToken = null;
    this.setState('closed');
  }

  connect() {
    const generation = ++this.generation;
    this.setState(this.reconnects > 0 || this.everOpen ? 'reconnecting' : 'connecting');
    const run = { websocket: this.connectWs, sse: this.connectSse, 'long-poll': this.connectPoll, 'short-poll': this.connectPoll }[this.transport];
    run.call(this, generation);
  }

  scheduleReconnect(generation) {
    if (this.stopped || generation !== this.generation) return;
    this.generation++;
    if (!this.autoReconnect) { this.setState('closed'); return; }
    this.reconnects++;
    this.setState('reconnecting');
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }

  opened() { this.backoff = BACKOFF_MIN_MS; this.everOpen = true; this.setState('open'); }

  /// Delivers one server message (JSON text) to listeners; false when it is a duplicate.
  deliver(text, meta) {
    let msg;
    try { msg = JSON.parse(text); } catch { this.emit('error', new Error('bad JSON from server')); return; }
    if (msg.channel && typeof msg.seq === 'number' && ['chat', 'broadcast', 'message'].includes(msg.type)) {
      if (msg.seq <= (this.positions[msg.channel] || 0)) return;
      this.positions[msg.channel] = msg.seq;
    }
    if (msg.type === 'welcome') {
      if (this.epoch && this.epoch !== msg.epoch) this.positions = {};
      this.connectionId = msg.connection_id;
      this.sessionToken = msg.session_token || null;
      this.epoch = msg.epoch;
    }
    if (msg.type === 'subscribed' && !(msg.channel in this.positions)) this.positions[msg.channel] = msg.seq;
    this.received++;
    this.emit('message', msg, { bytes: byteLength(text), ...meta });
  }

  /// The channels to resume, with the last seq seen on each.
  resumeList() {
    // `broadcast` is joined on every connection anyway; naming it here resumes it too.
    const names = [...new Set([...(this.channels || Object.keys(this.positions)), 'broadcast'])];
    return names.map((channel) => channel in this.positions
      ? { channel, since: this.positions[channel], epoch: this.epoch } : channel);
  }

  // --- WebSocket ---------------------------------------------------------------------
  connectWs(generation) {
    const url = new URL('/ws', this.base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.channels) url.searchParams.set('channels', this.channels.join(','));
    const resume = this.everOpen ? this.resumeList().filter((c) => typeof c === 'object') : [];
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => { if (generation === this.generation) this.opened(); };
    ws.onmessage = (event) => {
      if (generation !== this.generation) return;
      const text = event.data;
      this.deliver(text, { wire: { kind: 'ws', direction: 'in', frame: wsFrameHeader(byteLength(text), false), payload: text } });
      if (resume.length && JSON.parse(text).type === 'welcome') {
        for (const r of resume.splice(0)) this.send({ type: 'subscribe', channel: r.channel, since: r.since, epoch: r.epoch });
      }
    };
    ws.onclose = () => { if (this.ws === ws) this.ws = null; this.scheduleReconnect(generation); };
    ws.onerror = () => {};
  }

  // --- Server-Sent Events ------------------------------------------------------------
  connectSse(generation) {
    const url = new URL('/sse', this.base);
    if (this.channels) url.searchParams.set('channels', this.channels.join(','));
    if (this.lastEventId) url.searchParams.set('lastEventId', this.lastEventId);
    const es = new EventSource(url);
    this.es = es;
    es.onopen = () => { if (generation === this.generation) this.opened(); };
    for (const type of MESSAGE_TYPES) {
      es.addEventListener(type, (event) => {
        if (generation !== this.generation) return;
        if (event.lastEventId) this.lastEventId = event.lastEventId;
        const wire = { kind: 'sse', direction: 'in', text: sseEventText(type, event.data, event.lastEventId) };
        this.deliver(event.data, { wire });
      });
    }
    es.onerror = () => {
      if (generation !== this.generation) return;
      if (es.readyState === EventSource.CONNECTING) { this.reconnects++; this.setState('reconnecting'); return; }
      es.close();
      if (this.es === es) this.es = null;
      this.scheduleReconnect(generation);
    };
  }

  // --- Long and short polling --------------------------------------------------------
  pollPath() { return this.transport === 'long-poll' ? '/poll' : '/short-poll'; }

  async connectPoll(generation) {
    this.cursor = undefined;
    this.outgoing = this.outgoing || [];
    const body = { channels: this.everOpen ? this.resumeList() : (this.channels || undefined) };
    const first = await this.pollRequest(generation, body);
    if (!first) return;
    this.opened();
    this.pollLoop(generation);
  }

  /// One POST; delivers its messages. Null when it failed (a reconnect is scheduled).
  async pollRequest(generation, body) {
    const abort = new AbortController();
    this.abort = abort;
    const text = JSON.stringify(body);
    const started = performance.now();
    let response, answer;
    try {
      response = await fetch(new URL(this.pollPath(), this.base), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text, signal: abort.signal,
      });
      answer = await response.text();
    } catch (err) {
      if (abort.signal.aborted && generation === this.generation && !this.stopped) return { aborted: true };
      if (generation === this.generation) this.scheduleReconnect(generation);
      return null;
    }
    if (generation !== this.generation) return null;
    const ms = performance.now() - started;
    const wire = { kind: 'http', method: 'POST', path: this.pollPath(), requestBody: text, status: response.status,
      responseHeaders: [...response.headers].map(([k, v]) => `${k}: ${v}`), responseBody: answer };
    if (response.status === 409) { await sleep(200); return { retry: true }; }
    if (!response.ok) {
      this.emit('error', new Error(`${this.pollPath()} answered ${response.status}: ${answer}`));
      this.connectionId = null;
      this.sessionToken = null;
      this.scheduleReconnect(generation);
      return null;
    }
    const reply = JSON.parse(answer);
    this.connectionId = reply.connection_id;
    this.sessionToken = reply.session_token;
    this.cursor = reply.cursor;
    const messages = reply.messages || [];
    this.emit('request', { ms, count: messages.length, empty: messages.length === 0, timeout: reply.timeout, bytes: byteLength(text) + byteLength(answer), wire });
    for (const msg of messages) this.deliver(JSON.stringify(msg), { wire });
    if (reply.closed) { this.connectionId = null; this.sessionToken = null; this.scheduleReconnect(generation); return null; }
    return reply;
  }

  async pollLoop(generation) {
    while (generation === this.generation && !this.stopped) {
      const body = { session_token: this.sessionToken, cursor: this.cursor };
      const message = this.outgoing.shift();
      if (message) body.message = message;
      const reply = await this.pollRequest(generation, body);
      if (!reply) return;
      if ((reply.aborted || reply.retry) && message) this.outgoing.unshift(message);
      // The server notices an aborted poll when its socket closes; give it that moment
      // so the next poll is not refused as concurrent (409).
      if (reply.aborted) await sleep(ABORT_SETTLE_MS);
      if (this.transport === 'short-poll' && !this.outgoing.length && !reply.aborted) {
        await this.waitOrWake(this.interval);
      }
    }
  }

  waitOrWake(ms) {
    return new Promise((resolve) => { this.wake = resolve; setTimeout(resolve, ms); });
  }

  // --- Sending -------------------------------------------------------------------------
  /// Sends one protocol message; resolves with the wire description of what was sent.
  async send(message) {
    const text = JSON.stringify(message);
    if (this.transport === 'websocket') {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
      this.ws.send(text);
      return { kind: 'ws', direction: 'out', frame: wsFrameHeader(byteLength(text), true), payload: text };
    }
    if (this.transport === 'sse') {
      if (!this.sessionToken) throw new Error('not connected');
      const body = JSON.stringify({ session_token: this.sessionToken, message });
      const response = await fetch(new URL('/sse/message', this.base), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
      });
      if (!response.ok) throw new Error(`POST /sse/message answered ${response.status}`);
      return { kind: 'http', method: 'POST', path: '/sse/message', requestBody: body, status: response.status,
        responseHeaders: [...response.headers].map(([k, v]) => `${k}: ${v}`), responseBody: '' };
    }
    // Long polling: the message goes beside the held poll (POST /poll/message, 204);
    // its replies arrive in the held poll, which the server wakes for them.
    if (this.transport === 'long-poll' && this.sessionToken) {
      const body = JSON.stringify({ session_token: this.sessionToken, message });
      const response = await fetch(new URL('/poll/message', this.base), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
      });
      if (!response.ok) throw new Error(`POST /poll/message answered ${response.status}`);
      return { kind: 'http', method: 'POST', path: '/poll/message', requestBody: body, status: response.status,
        responseHeaders: [...response.headers].map(([k, v]) => `${k}: ${v}`), responseBody: '' };
    }
    // Short polling (or a long-poll session still opening): the message rides on the next poll.
    this.outgoing.push(message);
    if (this.wake) this.wake();
    return { kind: 'http', method: 'POST', path: this.pollPath(), requestBody: text, queued: true };
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
