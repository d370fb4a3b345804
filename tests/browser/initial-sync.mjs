// The initial sync on the real settings page in Debian's Chromium (tests/e2e/initial_sync.py):
// an administrator logs in, makes the dry-run report for a peer, reads it, carries it out with
// the progress bar and ends on the page with every account's outcome (screenshot for docs/).
// Prints one JSON line: the counts shown, the bar before and after, the steps it took, and the
// status of a step posted without the page's nonce.
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`console: ${m.text()}\n`); });
  let steps = 0;
  page.on('request', (r) => { if (r.url().includes('admin-ajax.php') && (r.postData() || '').includes('usersync_sync_step')) steps++; });
  await page.goto(`${cfg.url}/wp-login.php`);
  // wp-login.php focuses the user name field 200 ms after it loads: fill after that (lib.mjs).
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'user_login', null, { timeout: 5000 }).catch(() => {});
  await page.fill('#user_login', cfg.user);
  await page.fill('#user_pass', cfg.password);
  await Promise.all([page.waitForNavigation(), page.click('#wp-submit')]);
  await page.goto(`${cfg.url}/wp-admin/options-general.php?page=usersync-sync&peer=${encodeURIComponent(cfg.peer)}`);
  await Promise.all([page.waitForNavigation(), page.click('#usersync-sync-report')]);
  result.counts = Object.fromEntries(await page.$$eval('#usersync-sync-counts li', (lis) => lis.map((li) => [li.dataset.verdict, li.dataset.count])));
  const bar = async () => page.$eval('#usersync-sync-progress', (p) => [String(p.value), String(p.max)]);
  result.progress = await bar();
  result.nonceless = await page.evaluate(async (peer) => (await fetch('/wp-admin/admin-ajax.php', {
    method: 'POST', body: new URLSearchParams({ action: 'usersync_sync_step', peer }), credentials: 'same-origin',
  })).status, cfg.peer);
  await page.click('#usersync-sync-run');
  await page.waitForSelector('#usersync-sync-status[data-state="finished"], #usersync-sync-status[data-state="failed"]', { timeout: 120000 });
  result.state = await page.$eval('#usersync-sync-status', (s) => s.dataset.state);
  result.status = await page.$eval('#usersync-sync-status', (s) => s.textContent);
  result.after = await bar();
  result.steps = steps;
  await page.waitForLoadState('load');
  await page.waitForTimeout(1200); // the page reloads itself to show each account's outcome
  await page.waitForSelector('#usersync-sync-progress');
  await page.screenshot({ path: cfg.screenshot, fullPage: false });
} catch (e) {
  process.stderr.write(`${e.stack}\n`);
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
