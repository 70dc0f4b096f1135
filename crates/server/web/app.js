// app.js: the dashboard's entry point. Builds one Panel per transport (panels.js), the
// raw TCP explainer, the wire view, and the academy panels (academy.js). Exposes the
// panels as `window.switchboard` so tests (and curious users) can inspect them.

import { webSocketPanel, ssePanel, longPollPanel, shortPollPanel } from '/panels.js';
import { simulatorPanel, comparisonPanel } from '/academy.js';
import { byteLength } from '/switchboard.js';

const $ = (selector) => document.querySelector(selector);
const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

const panels = {
  websocket: webSocketPanel($('#ws')),
  sse: ssePanel($('#sse')),
  'long-poll': longPollPanel($('#long-poll')),
  'short-poll': shortPollPanel($('#short-poll')),
};
window.switchboard = { panels };

// --- Server facts and the raw TCP panel ------------------------------------------------
let framing = 'u32';
async function loadInfo() {
  const info = await (await fetch('/api/academy')).json();
  framing = info.tcp_framing;
  $('#tcp-framing').textContent = framing;
  $('#tcp-addr').textContent = info.tcp_addr || '(TCP off)';
  if (info.tcp_addr) {
    const port = info.tcp_addr.split(':').pop();
    $('#tcp-command').textContent = `switchboard client --url tcp://127.0.0.1:${port} --protocol tcp chat`;
  }
  $('#server-info').textContent = `Server ${info.http_addr}; simulator up to ${info.simulator.max_connections} connections.`;
  $('#sim-connections').max = info.simulator.max_connections;
  renderTcpBytes();
}

function renderTcpBytes() {
  const text = $('#tcp-sample').value;
  const payload = [...new TextEncoder().encode(text)];
  const header = framing === 'u32'
    ? [payload.length >>> 24, (payload.length >> 16) & 255, (payload.length >> 8) & 255, payload.length & 255]
    : [...new TextEncoder().encode(String(payload.length).padEnd(10, ' '))];
  const explain = framing === 'u32'
    ? `4-byte big-endian length = ${payload.length}`
    : `10 ASCII bytes, the decimal length "${payload.length}" padded with spaces`;
  $('#tcp-bytes').textContent =
    `header  ${hex(header)}    (${explain})\npayload ${hex(payload)}\n        ${text}\n`
    + `total   ${header.length + payload.length} bytes on the wire for a ${payload.length}-byte message`;
}
$('#tcp-sample').addEventListener('input', renderTcpBytes);
// Live: the last chat line this page received is shown as a TCP client got it (the hub
// renders each message once, so the JSON bytes are the same on every transport).
panels.websocket.client.on('message', (msg, meta) => {
  if (msg.type !== 'chat' || !meta.wire) return;
  $('#tcp-sample').value = meta.wire.payload;
  renderTcpBytes();
});

// --- Wire view ---------------------------------------------------------------------------
function wireText(record) {
  const stamp = new Date(record.at).toISOString().slice(11, 23);
  if (record.kind === 'ws') {
    const f = record.frame;
    const total = f.headerLength + f.payloadLength;
    return `${stamp} WebSocket frame, ${record.direction === 'out' ? 'client → server (masked)' : 'server → client'}\n`
      + `  FIN=${f.fin} opcode=0x${f.opcode} (text) MASK=${f.masked ? 1 : 0} payload length=${f.payloadLength}\n`
      + `  header bytes (computed): ${hex(f.headerBytes)}${f.masked ? ' + 4-byte masking key' : ''}\n`
      + `  payload: ${record.payload}\n  = ${total} bytes on the wire (${f.headerLength} header + ${f.payloadLength} payload)\n`;
  }
  if (record.kind === 'sse') {
    return `${stamp} SSE event (${byteLength(record.text)} bytes of text/event-stream)\n${record.text}`;
  }
  if (record.queued) {
    return `${stamp} queued for the next poll: ${record.requestBody}\n`;
  }
  const request = `POST ${record.path} HTTP/1.1\r\nHost: ${location.host}\r\nContent-Type: application/json\r\nContent-Length: ${byteLength(record.requestBody)}\r\n\r\n${record.requestBody}`;
  const response = `HTTP/1.1 ${record.status}\r\n${(record.responseHeaders || []).join('\r\n')}\r\n\r\n${record.responseBody || ''}`;
  return `${stamp} HTTP exchange: request ${byteLength(request)} bytes + response ${byteLength(response)} bytes (plus headers the browser adds)\n`
    + `${request.replaceAll('\r\n', '\n')}\n---\n${response.replaceAll('\r\n', '\n')}\n`;
}

/// The last exchange of each transport in the server's measured comparison, as captured
/// at the socket (`>>` sent by the client, `<<` received; binary bytes in [hex]).
function measuredText() {
  const figures = window.switchboard.transcripts;
  if (!figures) return 'Run "Measure at the socket" in the comparison panel to capture exact bytes.';
  return figures.map((f) => `=== ${f.transport}: ${f.bytes_per_message} bytes per ping round trip, measured at the socket\n`
    + f.transcript.map(([direction, text]) => `${direction} ${text}`).join('\n')).join('\n\n');
}

function renderWire() {
  if ($('#wire-source').value === 'measured') { $('#wire-view').textContent = measuredText(); return; }
  const panel = panels[$('#wire-source').value];
  const records = panel.wire.slice(-8).reverse();
  $('#wire-view').textContent = records.length ? records.map(wireText).join('\n') : 'Start this panel to see its traffic.';
}
$('#wire-source').addEventListener('change', renderWire);
let wirePending = false;
document.addEventListener('wire', (event) => {
  if (event.detail.transport !== $('#wire-source').value || wirePending) return;
  wirePending = true;
  requestAnimationFrame(() => { wirePending = false; renderWire(); });
});

// --- Academy -----------------------------------------------------------------------------
simulatorPanel($('#simulator'));
comparisonPanel($('#compare'));
loadInfo().catch((err) => { $('#server-info').textContent = `cannot load server info: ${err.message}`; });

// The WebSocket, SSE and long-polling panels start on load: the page is live at once.
// Short polling waits for its Start button (it costs a request a second).
panels.websocket.client.start();
panels.sse.client.start();
panels['long-poll'].client.start();
