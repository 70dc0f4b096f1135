// Two pages chat over WebSocket; ping shows a round trip; stats arrive.
import { run, openDashboard, check, screenshot } from './lib.mjs';

await run(async (browser, errors) => {
  const ann = await openDashboard(browser, errors);
  const bob = await openDashboard(browser, errors);
  for (const page of [ann, bob]) {
    await page.locator('#ws .state-open').waitFor({ timeout: 5000 });
  }
  check(true, 'both pages open a WebSocket');
  const annId = await ann.locator('#ws .conn-id').textContent();
  const bobId = await bob.locator('#ws .conn-id').textContent();
  check(annId.length > 10 && annId !== bobId, `each page has its own connection id (${annId}, ${bobId})`);

  await ann.fill('#ws-nick', 'ann');
  await ann.fill('#ws-text', 'hello from ann');
  await ann.click('#ws-form [data-action=send]');
  await bob.locator('#ws .log li', { hasText: 'ann: hello from ann' }).waitFor({ timeout: 5000 });
  check(true, 'bob receives ann\'s chat line');

  await bob.fill('#ws-nick', 'bob');
  await bob.fill('#ws-text', 'hi ann');
  await bob.click('#ws-form [data-action=send]');
  await ann.locator('#ws .log li', { hasText: 'bob: hi ann' }).waitFor({ timeout: 5000 });
  check(true, 'ann receives bob\'s reply');

  // Resume: ann's socket drops; bob talks while she is away; she reconnects (after a
  // 1.5 s backoff) and the missed line arrives through `subscribe` with `since`.
  await ann.evaluate(() => { const c = window.switchboard.panels.websocket.client; c.backoff = 1500; c.ws.close(); });
  await ann.locator('#ws .state-reconnecting').waitFor({ timeout: 2000 });
  await bob.fill('#ws-text', 'said while ann was away');
  await bob.click('#ws-form [data-action=send]');
  await bob.locator('#ws .log li', { hasText: 'bob: said while ann was away' }).waitFor({ timeout: 5000 });
  check(await ann.locator('#ws .log li', { hasText: 'said while ann was away' }).count() === 0, 'ann is away when bob speaks');
  await ann.locator('#ws .log li', { hasText: 'bob: said while ann was away' }).waitFor({ timeout: 5000 });
  check(await ann.locator('#ws .reconnects').textContent() === '1', 'ann reconnected once and resumed the missed line');

  await ann.click('#ws-broadcast');
  await bob.locator('#ws .log li', { hasText: 'broadcast: ann says hello to everyone' }).waitFor({ timeout: 5000 });
  check(true, 'a broadcast reaches the other page');

  await ann.click('#ws-ping');
  await ann.locator('#ws-rtt', { hasText: 'ms' }).waitFor({ timeout: 5000 });
  const rttText = await ann.locator('#ws-rtt').textContent();
  const rtt = /^(\d+\.\d) ms$/.exec(rttText);
  check(rtt !== null && Number(rtt[1]) >= 0 && Number(rtt[1]) < 5000, `ping round trip shown as a number of milliseconds: ${rttText}`);
  await ann.click('#ws-stats');
  await ann.locator('#ws-server-stats', { hasText: 'websocket' }).waitFor({ timeout: 5000 });
  check(true, `stats shown: ${await ann.locator('#ws-server-stats').textContent()}`);
  const stamps = await bob.locator('#ws .log li').evaluateAll((items) => items.map((li) => {
    const times = li.querySelectorAll('time');
    return times.length === 1 ? times[0].textContent : `(${times.length} <time>s) ${li.textContent}`;
  }));
  const unstamped = stamps.filter((stamp) => !/^\d\d:\d\d:\d\d\.\d{3}$/.test(stamp));
  check(stamps.length > 3 && unstamped.length === 0, `every one of ${stamps.length} log lines has one HH:MM:SS.mmm timestamp${unstamped.length ? `; not: ${unstamped.join(' | ')}` : ''}`);
  await screenshot(ann, '#ws', 'websocket-panel');
  await ann.selectOption('#wire-source', 'websocket');
  await ann.locator('#wire-view', { hasText: 'FIN=1 opcode=0x1' }).waitFor({ timeout: 5000 });
  check(true, 'the wire view shows computed WebSocket frame headers');
  await screenshot(ann, '#wire', 'wire-view');
  await screenshot(ann, '#tcp', 'tcp-panel');
  const tcpBytes = await ann.locator('#tcp-bytes').textContent();
  check(tcpBytes.includes('header  00 00 00') && tcpBytes.includes('said while ann was away'), 'the TCP panel frames the last chat line live, length prefix first');
});
