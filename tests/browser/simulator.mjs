// The connection simulator reaches N connections (counted by the server itself) and
// stops cleanly; then the protocol comparison fills its table.
import { run, openDashboard, check, screenshot, base } from './lib.mjs';

const N = 200;
const openConnections = async () => {
  const stats = await (await fetch(`${base}/api/stats`)).json();
  return stats.connections.websocket;
};

/// The comparison table's rows: transport, error cells and every cell's text.
const comparisonRows = (page) => page.locator('#compare-table tbody tr').evaluateAll((trs) => trs.map((tr) => ({
  transport: tr.dataset.transport,
  errors: tr.querySelectorAll('.error').length,
  cells: [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
})));

/// Every row a full measurement by `by`: no error cell, one row per transport, and each
/// figure a finite number in its range (no NaN, no blank).
function checkMeasured(rows, by, count) {
  const shown = rows.map((r) => r.cells.join(' ')).join(' | ');
  check(rows.length === count && new Set(rows.map((r) => r.transport)).size === count, `${count} transports, one row each: ${shown}`);
  for (const row of rows) {
    const figures = row.cells.slice(2).map((cell) => (cell === '' ? NaN : Number(cell)));
    const [connect, p50, max, bytes, requests] = figures;
    check(row.errors === 0 && row.cells.length === 7 && row.cells[1] === by
      && figures.every(Number.isFinite)
      && connect >= 0 && p50 >= 0 && p50 <= max && bytes > 0 && requests >= 0,
    `${row.transport}: measured by the ${by}, no error, every figure a number in range (p50 <= max, bytes > 0): ${row.cells.join(' | ')}`);
  }
}

await run(async (browser, errors) => {
  const page = await openDashboard(browser, errors);
  await page.locator('#ws .state-open').waitFor({ timeout: 5000 });
  const before = await openConnections();
  await page.fill('#sim-connections', String(N));
  await page.fill('#sim-ramp', '400');
  await page.fill('#sim-rate', '2');
  await page.click('#sim-start');
  await page.waitForFunction((n) => Number(document.querySelector('#sim-connected').textContent) === n, N, { timeout: 10000 });
  check(true, `the simulator reports ${N} connected`);
  check(await openConnections() >= before + N, `the server counts ${N} more WebSocket connections`);
  await page.waitForFunction(() => document.querySelector('#sim-state').textContent === 'running', null, { timeout: 5000 });
  await page.waitForTimeout(2500);
  const sim = await (await fetch(`${base}/api/simulator`)).json();
  const timed = sim.samples.filter((s) => s.p50_ms !== null);
  check(sim.failed === 0 && timed.length > 0 && timed.every((s) => Number.isFinite(s.p50_ms) && s.p50_ms > 0 && s.rss_bytes > 0),
    `the simulator times real round trips without failures: ${JSON.stringify(sim.samples.at(-1))}`);
  await screenshot(page, '#simulator', 'simulator-panel');
  await page.click('#sim-stop');
  await page.waitForFunction(() => document.querySelector('#sim-state').textContent === 'stopped', null, { timeout: 8000 });
  check(await page.locator('#sim-connected').textContent() === '0', 'after stop the simulator reports 0 connected');
  let after = await openConnections();
  for (let i = 0; i < 20 && after > before; i++) { await page.waitForTimeout(100); after = await openConnections(); }
  check(after === before, `the server is back to ${before} WebSocket connection(s)`);

  await page.click('#compare-run');
  await page.waitForFunction(() => document.querySelectorAll('#compare-table tbody tr').length === 5 && !document.querySelector('#compare-run').disabled, null, { timeout: 20000 });
  checkMeasured(await comparisonRows(page), 'server', 5);
  await page.selectOption('#wire-source', 'measured');
  await page.locator('#wire-view', { hasText: '>> POST /poll HTTP/1.1' }).waitFor({ timeout: 5000 });
  check(true, 'the wire view shows the exact bytes captured at the socket');
  await screenshot(page, '#wire', 'wire-view-measured');
  await screenshot(page, '#compare', 'comparison-panel-server');

  await page.click('#compare-run-browser');
  await page.waitForFunction(() => document.querySelectorAll('#compare-table tbody tr').length === 4 && !document.querySelector('#compare-run').disabled, null, { timeout: 20000 });
  checkMeasured(await comparisonRows(page), 'browser', 4);
  await screenshot(page, '#compare', 'comparison-panel');
});
