// panels.js: one live client per transport panel. A Panel binds a Switchboard client to
// its <section>: Start/Stop buttons, the status line (state, connection id, reconnects,
// messages), and a bounded log with a timestamp on every line. The functions below add
// what each transport shows: chat (WebSocket), metrics charts (SSE), weather cards (long
// polling), request costs (short polling).

import { Switchboard } from '/switchboard.js';
import { LineChart } from '/charts.js';

/// Lines kept per log; older ones are dropped.
const LOG_LINES = 200;
/// Wire records kept per panel for the wire view.
const WIRE_RECORDS = 20;

const time = (ms = Date.now()) => new Date(ms).toISOString().slice(11, 23);
const escape = (text) => String(text).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' }[c]));
export const formatBytes = (n) => n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${Math.round(n)} B`;

export class Panel {
  constructor(section, options) {
    this.section = section;
    this.client = new Switchboard(options);
    this.wire = [];
    this.logList = section.querySelector('.log');
    this.statusLine = section.querySelector('.status');
    section.querySelector('[data-action=start]').addEventListener('click', () => this.client.start());
    section.querySelector('[data-action=stop]').addEventListener('click', () => this.client.stop());
    this.client.on('state', (state) => { this.log(`state: ${state}`, 'empty'); this.render(); });
    this.client.on('message', (msg, meta) => { this.record(meta.wire); this.render(); });
    this.client.on('error', (err) => this.log(`error: ${err.message}`, 'error'));
    this.render();
  }

  record(wire) {
    if (!wire) return;
    this.wire.push({ at: Date.now(), ...wire });
    if (this.wire.length > WIRE_RECORDS) this.wire.shift();
    document.dispatchEvent(new CustomEvent('wire', { detail: { transport: this.client.transport } }));
  }

  render() {
    const c = this.client;
    const running = c.state !== 'idle' && c.state !== 'closed';
    this.statusLine.innerHTML = `state <b class="state state-${c.state}">${c.state}</b> · connection <b class="conn-id">${escape(c.connectionId || '–')}</b> · reconnects <b class="reconnects">${c.reconnects}</b> · messages <b class="count">${c.received}</b>`;
    this.section.querySelector('[data-action=start]').disabled = running;
    this.section.querySelector('[data-action=stop]').disabled = !running;
    for (const send of this.section.querySelectorAll('[data-action=send]')) send.disabled = c.state !== 'open';
  }

  log(text, kind = '', at = Date.now()) {
    const item = document.createElement('li');
    item.className = kind;
    item.innerHTML = `<time>${time(at)}</time>${escape(text)}`;
    this.logList.append(item);
    while (this.logList.children.length > LOG_LINES) this.logList.firstChild.remove();
    this.logList.scrollTop = this.logList.scrollHeight;
  }

  async send(message) {
    try {
      const wire = await this.client.send(message);
      this.record(wire);
      this.log(`→ ${JSON.stringify(message)}`, 'out');
    } catch (err) {
      this.log(`cannot send: ${err.message}`, 'error');
    }
  }
}

/// A one-line description of a delivered message for the logs.
function describe(msg) {
  switch (msg.type) {
    case 'chat': return `#${msg.channel} ${msg.user}: ${msg.text}`;
    case 'broadcast': return `broadcast: ${msg.text}`;
    case 'welcome': return `welcome ${msg.connection_id} (${msg.transport}, epoch ${msg.epoch})`;
    case 'subscribed': return `subscribed #${msg.channel} at seq ${msg.seq}`;
    case 'message': return `#${msg.channel} seq ${msg.seq}`;
    case 'error': return `error ${msg.code} ${msg.error}: ${msg.message}`;
    default: return msg.type;
  }
}

export function webSocketPanel(section) {
  const panel = new Panel(section, { transport: 'websocket', channels: ['lobby'] });
  const pings = new Map();
  let nextPing = 1;
  const nick = () => section.querySelector('#ws-nick').value.trim() || 'guest';
  const text = section.querySelector('#ws-text');
  panel.client.on('message', (msg) => {
    if (msg.type === 'pong' && pings.has(msg.id)) {
      const rtt = performance.now() - pings.get(msg.id);
      pings.delete(msg.id);
      section.querySelector('#ws-rtt').textContent = `${rtt.toFixed(1)} ms`;
      panel.log(`pong #${msg.id}: ${rtt.toFixed(1)} ms round trip`);
    } else if (msg.type === 'stats') {
      const s = msg.server;
      const open = Object.entries(s.connections).map(([t, n]) => `${t} ${n}`).join(', ');
      section.querySelector('#ws-server-stats').textContent = `${open}; ${s.messages_in} in, ${s.messages_out} out; up ${(s.uptime_ms / 1000).toFixed(0)} s`;
      panel.log(`stats: ${open}`);
    } else {
      panel.log(describe(msg), '', msg.ts || Date.now());
    }
  });
  section.querySelector('#ws-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    panel.send({ type: 'chat', channel: 'lobby', user: nick(), text: text.value });
    text.value = '';
  });
  section.querySelector('#ws-broadcast').addEventListener('click', () => {
    panel.send({ type: 'broadcast', text: text.value.trim() || `${nick()} says hello to everyone` });
    text.value = '';
  });
  section.querySelector('#ws-ping').addEventListener('click', () => {
    const id = nextPing++;
    pings.set(id, performance.now());
    panel.send({ type: 'ping', id });
  });
  section.querySelector('#ws-stats').addEventListener('click', () => panel.send({ type: 'custom', action: 'get_stats' }));
  return panel;
}

/// Per-core lines drawn at most (the snapshot has them all).
const CHART_MAX_CORES = 8;
const CORE_COLORS = ['#9aa9c7', '#c7a39a', '#9ac7a6', '#c7c19a', '#b29ac7', '#9ac3c7', '#c79ab8', '#a8a8a8'];

export function ssePanel(section) {
  const panel = new Panel(section, { transport: 'sse', channels: ['metrics', 'lobby'] });
  const rate = (v) => `${formatBytes(v)}/s`;
  const charts = {
    cpu: null, // built on the first snapshot, with one line per core
    memory: new LineChart(section.querySelector('#chart-memory'), { series: [{ name: 'memory', color: '#1b8a4b' }, { name: 'swap', color: '#b7791f' }], max: 100, unit: '%' }),
    disk: new LineChart(section.querySelector('#chart-disk'), { series: [{ name: 'read', color: '#2f6fde' }, { name: 'write', color: '#c53030' }], format: rate }),
    network: new LineChart(section.querySelector('#chart-network'), { series: [{ name: 'rx', color: '#1b8a4b' }, { name: 'tx', color: '#8e44ad' }], format: rate }),
  };
  panel.charts = charts;
  panel.client.on('message', (msg) => {
    if (msg.type !== 'message' || msg.channel !== 'metrics') { panel.log(describe(msg)); return; }
    const m = msg.data;
    if (!charts.cpu) {
      const cores = m.cpu.per_core.slice(0, CHART_MAX_CORES).map((_, i) => ({ name: `cpu${i}`, color: CORE_COLORS[i % CORE_COLORS.length] }));
      charts.cpu = new LineChart(section.querySelector('#chart-cpu'), { series: [{ name: 'total', color: '#2f6fde' }, ...cores], max: 100, unit: '%' });
    }
    charts.cpu.push(m.ts, [m.cpu.total, ...m.cpu.per_core.slice(0, CHART_MAX_CORES)]);
    charts.memory.push(m.ts, [m.memory.percent, m.swap.percent]);
    charts.disk.push(m.ts, [m.disk.read_bytes_per_s, m.disk.write_bytes_per_s]);
    charts.network.push(m.ts, [m.network.rx_bytes_per_s, m.network.tx_bytes_per_s]);
    section.querySelector('#disk-usage').textContent = `${m.disk.mount} ${m.disk.percent.toFixed(0)}% used`;
    const sb = m.switchboard;
    section.querySelector('#sse-figures').textContent =
      `${m.cpu.per_core.length} cores · load ${m.load.one.toFixed(2)} · memory ${formatBytes(m.memory.used_bytes)} of ${formatBytes(m.memory.total_bytes)} · `
      + `switchboard: ${sb.connections_total} connections, ${sb.messages_in_per_s.toFixed(0)} msg/s in, ${sb.messages_out_per_s.toFixed(0)} msg/s out, RSS ${formatBytes(sb.rss_bytes)}`;
    // One line a second would bury the chat: the status line counts them instead.
  });
  chatForm(section, panel, '#sse-form', '#sse-text');
  return panel;
}

function renderWeather(section, data) {
  const cards = section.querySelector('#weather-cards');
  const summary = { 'open-meteo': 'live from Open-Meteo', partial: 'partly live from Open-Meteo', unreachable: 'Open-Meteo unreachable' }[data.source];
  section.querySelector('#weather-summary').innerHTML = `Source: <b class="weather-source">${escape(data.source)}</b> (${summary})`
    + (data.simulated ? ' · <span class="badge simulated">SIMULATED readings</span>' : '')
    + (data.error ? ` · <span class="error">${escape(data.error)}</span>` : '')
    + ` · fetched ${time(data.fetched_at)} UTC`;
  cards.innerHTML = data.cities.map((city) => {
    const r = city.reading;
    const badge = city.simulated ? '<span class="badge simulated">simulated</span>'
      : city.source === 'open-meteo' ? '<span class="badge">real</span>' : '<span class="badge unreachable">unreachable</span>';
    return `<div class="card${city.simulated ? ' simulated' : ''}" data-city="${escape(city.name)}" data-source="${city.simulated ? 'simulated' : escape(city.source)}">
      <h3>${escape(city.name)}</h3>${badge}
      ${r ? `<div class="temp">${r.temperature_c.toFixed(1)} °C</div><div>${escape(r.conditions)}</div>
      <div class="muted">humidity ${r.humidity_pct}% · wind ${r.wind_speed_kmh} km/h</div>
      <div class="muted">observed ${escape(r.observed_at)}</div>` : '<div class="muted">no reading</div>'}
      <div class="muted">updated ${time(data.fetched_at)} UTC</div></div>`;
  }).join('');
}

/// Long polling: weather cards, plus chat both ways on #lobby.
export function longPollPanel(section) {
  const panel = new Panel(section, { transport: 'long-poll', channels: ['weather', 'lobby'] });
  let haveWeather = false;
  panel.client.on('message', (msg) => {
    if (msg.type === 'subscribed' && msg.channel === 'weather' && msg.seq > 0 && !haveWeather && msg.recovered === 0) {
      // Joined between two publications: ask for the latest one again (a re-subscribe
      // with `since` re-syncs an existing subscription).
      panel.client.positions.weather = msg.seq - 1;
      panel.client.send({ type: 'subscribe', channel: 'weather', since: msg.seq - 1, epoch: msg.epoch });
    }
    if (msg.type === 'message' && msg.channel === 'weather') {
      haveWeather = true;
      renderWeather(section, msg.data);
      panel.log(`weather seq ${msg.seq}: ${msg.data.source}${msg.data.simulated ? ' (simulated)' : ''}`, '', msg.ts);
    } else {
      panel.log(describe(msg), '', msg.ts || Date.now());
    }
  });
  panel.client.on('request', (r) => panel.log(`poll answered in ${r.ms.toFixed(0)} ms: ${r.count} message(s)${r.timeout ? ' (held until timeout)' : ''}`, 'empty'));
  chatForm(section, panel, '#long-poll-form', '#long-poll-text');
  return panel;
}

/// Short polling: the clock and chat, with every request's cost visible.
export function shortPollPanel(section) {
  const panel = new Panel(section, { transport: 'short-poll', channels: ['clock', 'lobby'] });
  let requests = 0, empty = 0, bytes = 0;
  panel.client.on('request', (r) => {
    requests++; bytes += r.bytes;
    if (r.empty) empty++;
    section.querySelector('#sp-requests').textContent = requests;
    section.querySelector('#sp-empty').textContent = empty;
    section.querySelector('#sp-rtt').textContent = `${r.ms.toFixed(1)} ms`;
    section.querySelector('#sp-bytes').textContent = formatBytes(bytes);
    panel.log(`request ${requests}: ${r.ms.toFixed(1)} ms, ${r.bytes} bytes, ${r.empty ? 'EMPTY' : `${r.count} message(s)`}`, r.empty ? 'empty' : '');
  });
  panel.client.on('message', (msg) => {
    if (msg.type === 'message' && msg.channel === 'clock') {
      section.querySelector('#sp-clock').textContent = msg.data.iso || JSON.stringify(msg.data);
    } else if (msg.type !== 'message') {
      panel.log(describe(msg), '', msg.ts || Date.now());
    }
  });
  chatForm(section, panel, '#short-poll-form', '#short-poll-text');
  return panel;
}

function chatForm(section, panel, formId, inputId) {
  section.querySelector(formId).addEventListener('submit', (event) => {
    event.preventDefault();
    const input = section.querySelector(inputId);
    if (!input.value.trim()) return;
    const user = document.querySelector('#ws-nick').value.trim() || 'guest';
    panel.send({ type: 'chat', channel: 'lobby', user, text: input.value });
    input.value = '';
  });
}
