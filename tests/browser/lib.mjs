// Shared helpers of the dashboard's browser tests: launch Debian's Chromium headless
// through playwright-core (never a downloaded browser), open pages that record console
// errors, save screenshots under test-artifacts/, and fail loudly.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

export function check(condition, message) {
  if (!condition) fail(message);
  console.log(`ok: ${message}`);
}

export const base = process.argv[2] || fail('usage: node <spec>.mjs http://127.0.0.1:PORT');

/// `extraArgs`: more Chromium flags (the cross-origin spec maps a foreign name to loopback).
export async function launch(extraArgs = []) {
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/// A page on the dashboard that records every console error and uncaught exception.
export async function openDashboard(browser, errors, { width = 1400, height = 1000 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  await page.goto(base);
  return page;
}

export async function screenshot(page, selector, name) {
  const file = join(ARTIFACTS, `${name}.png`);
  await page.locator(selector).screenshot({ path: file });
  console.log(`screenshot: ${file}`);
}

/// Runs `body`, failing with its error; closes the browser either way; checks no console errors.
export async function run(body, extraArgs = []) {
  const browser = await launch(extraArgs);
  const errors = [];
  const timer = setTimeout(() => fail('the spec took longer than 60 s'), 60000);
  try {
    await body(browser, errors);
    check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join(' | ')}` : ''}`);
  } catch (err) {
    fail(err.stack || err.message);
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}
