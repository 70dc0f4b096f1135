// Long polling and short polling deliver messages both ways: a chat sent over each
// reaches a WebSocket page, and a WebSocket chat reaches each polling panel.
import { run, openDashboard, check, screenshot } from './lib.mjs';

await run(async (browser, errors) => {
  const poller = await openDashboard(browser, errors);
  const talker = await openDashboard(browser, errors);
  await poller.locator('#long-poll .state-open').waitFor({ timeout: 5000 });
  await poller.click('#short-poll [data-action=start]');
  await poller.locator('#short-poll .state-open').waitFor({ timeout: 5000 });
  await talker.locator('#ws .state-open').waitFor({ timeout: 5000 });
  check(true, 'long-poll, short-poll and WebSocket panels are open');

  await poller.fill('#ws-nick', 'poller');
  await poller.fill('#long-poll-text', 'sent over long polling');
  await poller.click('#long-poll-form [data-action=send]');
  await talker.locator('#ws .log li', { hasText: 'poller: sent over long polling' }).waitFor({ timeout: 8000 });
  check(true, 'a chat sent over long polling reaches a WebSocket page');

  await poller.fill('#short-poll-text', 'sent over short polling');
  await poller.click('#short-poll-form [data-action=send]');
  await talker.locator('#ws .log li', { hasText: 'poller: sent over short polling' }).waitFor({ timeout: 8000 });
  check(true, 'a chat sent over short polling reaches a WebSocket page');

  await poller.fill('#sse-text', 'sent over SSE');
  await poller.click('#sse-form [data-action=send]');
  await talker.locator('#ws .log li', { hasText: 'poller: sent over SSE' }).waitFor({ timeout: 8000 });
  check(true, 'a chat sent by POST /sse/message reaches a WebSocket page');

  await talker.fill('#ws-nick', 'talker');
  await talker.fill('#ws-text', 'to the pollers');
  await talker.click('#ws-form [data-action=send]');
  await poller.locator('#long-poll .log li', { hasText: 'talker: to the pollers' }).waitFor({ timeout: 8000 });
  check(true, 'a WebSocket chat reaches the long-polling panel');
  await poller.locator('#short-poll .log li', { hasText: 'talker: to the pollers' }).waitFor({ timeout: 8000 });
  check(true, 'a WebSocket chat reaches the short-polling panel');
  await poller.locator('#sse .log li', { hasText: 'talker: to the pollers' }).waitFor({ timeout: 8000 });
  check(true, 'a WebSocket chat reaches the SSE panel');

  await poller.waitForFunction(() => Number(document.querySelector('#sp-empty').textContent) >= 1, null, { timeout: 8000 });
  check(true, `short polling shows empty responses (${await poller.locator('#sp-empty').textContent()} of ${await poller.locator('#sp-requests').textContent()})`);
  await poller.waitForFunction(() => document.querySelector('#sp-clock').textContent !== '–', null, { timeout: 5000 });
  check(true, `the clock feed arrives over short polling: ${await poller.locator('#sp-clock').textContent()}`);
  await screenshot(poller, '#short-poll', 'short-poll-panel');
  await poller.selectOption('#wire-source', 'short-poll');
  await poller.locator('#wire-view', { hasText: 'POST /short-poll HTTP/1.1' }).waitFor({ timeout: 5000 });
  check(true, 'the wire view shows the polling HTTP exchange');
});
