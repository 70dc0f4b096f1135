// A page on another site cannot drive switchboard in the visitor's name: a tiny page
// served by a second HTTP server (this spec's own, on another port) under a foreign name
// (`evil.example`, mapped to 127.0.0.1 inside Chromium, as DNS would for a real site)
// opens a WebSocket, an EventSource and a poll to switchboard: all three are refused
// (403 before any upgrade or session). The same name re-pointed at switchboard's own port
// (DNS rebinding) gets 421 for the dashboard. The dashboard on its own origin still works.
import http from 'node:http';
import { run, openDashboard, check, base } from './lib.mjs';

const target = new URL(base);
const EVIL_PAGE = `<!doctype html><meta charset="utf-8"><title>evil</title><script>
window.results = {};
const target = ${JSON.stringify(target.host)};
const ws = new WebSocket('ws://' + target + '/ws');
ws.onopen = () => { window.results.ws = 'open'; };
ws.onerror = () => { window.results.ws = 'refused'; };
const es = new EventSource('http://' + target + '/sse');
es.onopen = () => { window.results.sse = 'open'; };
es.onerror = () => { window.results.sse = es.readyState === EventSource.CLOSED ? 'refused' : 'retrying'; es.close(); };
fetch('http://' + target + '/poll', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
  .then((r) => { window.results.poll = 'answered ' + r.status; })
  .catch(() => { window.results.poll = 'refused'; });
</script>`;

const evil = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(EVIL_PAGE);
});
await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
const evilPort = evil.address().port;

await run(async (browser, errors) => {
  const page = await browser.newPage();
  await page.goto(`http://evil.example:${evilPort}/`);
  await page.waitForFunction(() => ['ws', 'sse', 'poll'].every((k) => k in window.results), null, { timeout: 10000 });
  const results = await page.evaluate(() => window.results);
  check(results.ws === 'refused', `a foreign page's WebSocket to /ws is refused (${results.ws})`);
  check(results.sse === 'refused', `a foreign page's EventSource to /sse is refused (${results.sse})`);
  check(results.poll === 'refused', `a foreign page's POST /poll is refused at its preflight (${results.poll})`);
  await page.close();
  // A browser would hide a response it may not read anyway; what matters is that the
  // server did nothing: no connection of any kind was accepted for the foreign page.
  const stats = await (await fetch(new URL('/api/stats', base))).json();
  const accepted = stats.connections_accepted;
  check(accepted.websocket === 0 && accepted.sse === 0 && accepted.long_poll === 0,
    `the server accepted no connection from the foreign page (${JSON.stringify(accepted)})`);

  // DNS rebinding: the foreign name re-pointed at switchboard's own port.
  const rebound = await browser.newPage();
  const answer = await rebound.goto(`http://evil.example:${target.port}/api/stats`);
  check(answer.status() === 421, `the dashboard API under a foreign Host answers 421 (${answer.status()})`);
  await rebound.close();

  const dashboard = await openDashboard(browser, errors);
  await dashboard.locator('#ws .state-open').waitFor({ timeout: 5000 });
  await dashboard.locator('#sse .state-open').waitFor({ timeout: 5000 });
  await dashboard.locator('#long-poll .state-open').waitFor({ timeout: 5000 });
  check(true, 'the dashboard on its own origin still opens WebSocket, SSE and long polling');
}, [`--host-resolver-rules=MAP evil.example 127.0.0.1`]).finally(() => evil.close());
