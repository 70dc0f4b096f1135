// The SSE panel's charts receive metrics points; the long-polling panel renders weather
// cards from the stand-in source, real and simulated labelled as such.
import { run, openDashboard, check, screenshot, ARTIFACTS } from './lib.mjs';

await run(async (browser, errors) => {
  const page = await openDashboard(browser, errors);
  await page.locator('#sse .state-open').waitFor({ timeout: 5000 });
  check(true, 'the SSE stream opens');
  await page.waitForFunction(() => window.switchboard.panels.sse.charts.cpu?.points() >= 3, null, { timeout: 8000 });
  const points = await page.evaluate(() => Object.fromEntries(Object.entries(window.switchboard.panels.sse.charts).map(([k, c]) => [k, c.points()])));
  check(Object.values(points).every((n) => n >= 3), `every metrics chart has points over SSE: ${JSON.stringify(points)}`);
  check((await page.locator('#sse-figures').textContent()).includes('cores'), 'metrics figures are shown');
  await screenshot(page, '#sse', 'sse-metrics-panel');

  await page.locator('#weather-cards .card').first().waitFor({ timeout: 8000 });
  const cards = await page.locator('#weather-cards .card').evaluateAll((els) => els.map((e) => [e.dataset.city, e.dataset.source, e.textContent]));
  check(cards.length === 3, `three weather cards: ${cards.map((c) => c[0]).join(', ')}`);
  const byCity = Object.fromEntries(cards.map(([city, source, text]) => [city, { source, text }]));
  check(byCity.Oslo.source === 'open-meteo' && byCity.Oslo.text.includes('real') && byCity.Oslo.text.includes('21.5'), 'Oslo is real, from the stand-in (21.5 °C)');
  check(byCity.Nairobi.source === 'open-meteo', 'Nairobi is real');
  check(byCity.Perth.source === 'simulated' && byCity.Perth.text.includes('simulated'), 'Perth (source failing) is visibly simulated');
  const summary = await page.locator('#weather-summary').textContent();
  check(summary.includes('partial') && summary.includes('SIMULATED'), `the summary says partial + simulated: ${summary}`);
  await screenshot(page, '#long-poll', 'long-poll-weather-panel');
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-desktop.png`, fullPage: true });

  // Responsive: on a phone-sized viewport nothing overflows sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const [overflow, culprits] = await page.evaluate(() => [document.documentElement.scrollWidth - window.innerWidth,
    [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className}`)]);
  check(overflow <= 0, `no horizontal scrolling at 390 px (overflow ${overflow} px ${culprits.join(', ')})`);
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: true });
});
