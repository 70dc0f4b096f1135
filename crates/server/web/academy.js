// academy.js: the connection simulator (driven by the server: POST /api/simulator/start,
// GET /api/simulator once a second for its samples) and the protocol comparison (the same
// ping workload over each transport from this page, using switchboard.js).

import { Switchboard, byteLength } from '/switchboard.js';
import { LineChart, drawBars } from '/charts.js';
import { formatBytes } from '/panels.js';

const $ = (selector) => document.querySelector(selector);

export function simulatorPanel(section) {
  const charts = {
    connected: new LineChart($('#sim-chart-connected'), { series: [{ name: 'connected', color: '#2f6fde' }], format: (v) => v.toFixed(0) }),
    rate: new LineChart($('#sim-chart-rate'), { series: [{ name: 'msg/s', color: '#1b8a4b' }], format: (v) => v.toFixed(0) }),
    latency: new LineChart($('#sim-chart-latency'), { series: [{ name: 'p50', color: '#2f6fde' }, { name: 'p99', color: '#c53030' }], unit: ' ms' }),
    memory: new LineChart($('#sim-chart-memory'), { series: [{ name: 'RSS', color: '#8e44ad' }], format: formatBytes }),
  };
  let shown = 0;
  let timer = null;

  async function refresh() {
    const status = await (await fetch('/api/simulator')).json();
    const state = status.running ? (status.ramp_done ? 'running' : 'ramping up') : (status.request ? 'stopped' : 'idle');
    $('#sim-state').textContent = state;
    $('#sim-connected').textContent = status.connected;
    $('#sim-failed').textContent = status.failed || 0;
    $('#sim-error').textContent = status.last_error ? `last error: ${status.last_error}` : '';
    for (const s of status.samples.slice(shown)) {
      charts.connected.push(s.t_ms, [s.connected]);
      charts.rate.push(s.t_ms, [s.messages_per_s]);
      charts.latency.push(s.t_ms, [s.p50_ms ?? 0, s.p99_ms ?? 0]);
      charts.memory.push(s.t_ms, [s.rss_bytes]);
    }
    shown = status.samples.length;
    $('#sim-start').disabled = status.running;
    $('#sim-stop').disabled = !status.running;
    if (!status.running && timer) { clearInterval(timer); timer = null; }
    return status;
  }

  section.querySelector('#sim-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const request = {
      transport: $('#sim-transport').value,
      connections: Number($('#sim-connections').value),
      ramp_per_s: Number($('#sim-ramp').value),
      pings_per_s: Number($('#sim-rate').value),
    };
    const response = await fetch('/api/simulator/start', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request),
    });
    if (!response.ok) {
      const error = await response.json();
      $('#sim-error').textContent = error.message;
      return;
    }
    shown = 0;
    timer ||= setInterval(() => refresh().catch(() => {}), 1000);
    refresh();
  });
  $('#sim-stop').addEventListener('click', async () => {
    $('#sim-state').textContent = 'stopping';
    await fetch('/api/simulator/stop', { method: 'POST' });
    await refresh();
  });
  refresh().then((status) => { if (status.running) timer ||= setInterval(() => refresh().catch(() => {}), 1000); }).catch(() => {});
}

/// Bytes one ping round trip costs on `transport`, from the wire records.
function wireBytes(record) {
  if (record.kind === 'ws') return record.frame.headerLength + record.frame.payloadLength;
  if (record.kind === 'sse') return byteLength(record.text);
  const headers = (record.responseHeaders || []).join('\r\n');
  return byteLength(`POST ${record.path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 00\r\n\r\n`)
    + byteLength(record.requestBody || '') + byteLength(`HTTP/1.1 200 OK\r\n${headers}\r\n\r\n`) + byteLength(record.responseBody || '');
}

async function measure(transport, pings = 10) {
  const client = new Switchboard({ transport, channels: ['compare'], reconnect: false });
  const started = performance.now();
  let counting = false, requests = 0, bytes = 0;
  const waiters = new Map();
  client.on('request', (r) => { if (counting) { requests++; bytes += wireBytes(r.wire); } });
  client.on('message', (msg, meta) => {
    if (msg.type !== 'pong' || !waiters.has(msg.id)) return;
    if (meta.wire && meta.wire.kind !== 'http') bytes += wireBytes(meta.wire);
    waiters.get(msg.id)(performance.now());
  });
  const opened = new Promise((resolve) => client.on('state', (s) => { if (s === 'open') resolve(); }));
  client.start();
  const deadline = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`${transport}: ${what}`)), ms));
  await Promise.race([opened, deadline(5000, 'no connection within 5 s')]);
  while (!client.connectionId) await new Promise((r) => setTimeout(r, 20));
  const connectMs = performance.now() - started;
  const rtts = [];
  counting = true;
  try {
    for (let id = 1; id <= pings; id++) {
      const sentAt = performance.now();
      const answered = new Promise((resolve) => waiters.set(id, resolve));
      const wire = await client.send({ type: 'ping', id });
      if (wire.kind === 'ws') bytes += wireBytes(wire);
      if (wire.kind === 'http' && !wire.queued) { requests++; bytes += wireBytes(wire); }
      rtts.push(await Promise.race([answered, deadline(5000, 'no pong within 5 s')]) - sentAt);
    }
  } finally {
    client.stop();
  }
  rtts.sort((a, b) => a - b);
  return { transport, connectMs, p50: rtts[Math.floor(rtts.length / 2)], max: rtts.at(-1), bytesPerMessage: bytes / pings, requestsPerMessage: requests / pings };
}

function addRow(body, r, by) {
  body.insertAdjacentHTML('beforeend', `<tr data-transport="${r.transport}"><td>${r.transport}</td><td>${by}</td><td>${r.connectMs.toFixed(1)}</td><td>${r.p50.toFixed(2)}</td><td>${r.max.toFixed(2)}</td><td>${r.bytesPerMessage.toFixed(0)}</td><td>${r.requestsPerMessage.toFixed(2)}</td></tr>`);
}

function chart(section, results) {
  drawBars(section.querySelector('#compare-chart'), {
    series: [{ name: 'RTT p50', color: '#2f6fde' }, { name: 'bytes/msg', color: '#b7791f' }, { name: 'requests/msg', color: '#1b8a4b' }],
    data: results.map((r) => ({ label: r.transport, values: [r.p50, r.bytesPerMessage, r.requestsPerMessage] })),
  });
}

/// The server's measured comparison: Rust clients on loopback, bytes counted at the socket.
async function measuredOnServer(section, body) {
  const response = await fetch('/api/academy/compare', { method: 'POST' });
  if (!response.ok) throw new Error((await response.json()).message);
  const answer = await response.json();
  const results = [];
  window.switchboard.transcripts = answer.transports;
  for (const f of answer.transports) {
    if (!f.ok) {
      body.insertAdjacentHTML('beforeend', `<tr data-transport="${f.transport}"><td>${f.transport}</td><td>server</td><td colspan="5" class="error">${f.error}</td></tr>`);
      continue;
    }
    const r = { transport: f.transport, connectMs: f.connect_ms, p50: f.rtt_p50_ms, max: f.rtt_max_ms, bytesPerMessage: f.bytes_per_message, requestsPerMessage: f.requests_per_message };
    results.push(r);
    addRow(body, r, 'server');
  }
  document.dispatchEvent(new CustomEvent('wire', { detail: { transport: 'measured' } }));
  return results;
}

export function comparisonPanel(section) {
  const buttons = section.querySelectorAll('button');
  const run = async (how) => {
    buttons.forEach((b) => { b.disabled = true; });
    const body = section.querySelector('tbody');
    body.innerHTML = '';
    let results = [];
    try {
      if (how === 'server') {
        results = await measuredOnServer(section, body);
      } else {
        for (const transport of ['websocket', 'sse', 'long-poll', 'short-poll']) {
          try {
            const r = await measure(transport);
            results.push(r);
            addRow(body, r, 'browser');
          } catch (err) {
            body.insertAdjacentHTML('beforeend', `<tr data-transport="${transport}"><td>${transport}</td><td>browser</td><td colspan="5" class="error">${err.message}</td></tr>`);
          }
        }
      }
    } catch (err) {
      body.insertAdjacentHTML('beforeend', `<tr><td colspan="7" class="error">${err.message}</td></tr>`);
    }
    chart(section, results);
    buttons.forEach((b) => { b.disabled = false; });
  };
  section.querySelector('#compare-run').addEventListener('click', () => run('server'));
  section.querySelector('#compare-run-browser').addEventListener('click', () => run('browser'));
}
