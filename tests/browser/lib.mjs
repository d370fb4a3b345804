// What the browser scripts share: Debian's Chromium with a fresh ordinary profile that trusts
// only the test CA, *.test mapped to 127.0.0.1, a record of every request and dialog, pauses
// that let the Python side look at the sites' databases mid-run, and WordPress helpers.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const cfg = JSON.parse(process.argv[2]);

/**
 * A browser with its own profile (one person's browser). block3p: third-party cookies blocked
 * as Safari/ITP and Firefox do. Records every request URL (every frame, every page) and every
 * dialog (alert, confirm, prompt: proof that a script ran); `proveRecorders()` shows both
 * recorders work before a scenario relies on them staying empty.
 */
export async function launch({ block3p = false } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'usersync-browser-'));
  const nss = `sql:${join(home, '.pki', 'nssdb')}`;
  mkdirSync(join(home, '.pki', 'nssdb'), { recursive: true });
  execFileSync('certutil', ['-d', nss, '-N', '--empty-password']);
  execFileSync('certutil', ['-d', nss, '-A', '-n', 'usersync-test-ca', '-t', 'C,,', '-i', cfg.ca]);
  // *.test (the sites, evil.test and its look-alikes, attacker.test) is loopback; nothing else
  // resolves, so no request leaves the machine. Nothing is served for evil.test: the request
  // log, not a server there, shows that it is never asked for.
  const args = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-features=HttpsUpgrades',
    '--host-resolver-rules=MAP *.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
  // A persistent (ordinary) profile with the scenario's cookie setting. (Playwright's default
  // contexts are incognito-like, where Chromium always blocks third-party cookies.)
  mkdirSync(join(home, 'profile', 'Default'), { recursive: true });
  writeFileSync(join(home, 'profile', 'Default', 'Preferences'), JSON.stringify({
    profile: { cookie_controls_mode: block3p ? 1 : 0, block_third_party_cookies: !!block3p },
  }));
  const context = await chromium.launchPersistentContext(join(home, 'profile'), {
    executablePath: '/usr/bin/chromium', headless: true, args, env: { ...process.env, HOME: home },
  });
  const rec = { requests: [], dialogs: [], urlsWithTickets: [] };
  context.on('request', (r) => {
    rec.requests.push(r.url());
    // Tickets must never appear in a URL (where servers and proxies log them).
    if (/[?&](ticket|message)=|[A-Za-z0-9_-]{200,}/.test(r.url())) rec.urlsWithTickets.push(r.url());
  });
  const watch = (page) => {
    // USERSYNC_TRACE=1: every top-level navigation on stderr, to see where a flow went.
    if (process.env.USERSYNC_TRACE) page.on('framenavigated', (f) => { if (f === page.mainFrame()) process.stderr.write(`nav: ${f.url()}\n`); });
    page.on('dialog', (d) => { rec.dialogs.push(`${d.type()}: ${d.message()} at ${page.url()}`); d.dismiss().catch(() => {}); });
    page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`console: ${m.text()}\n`); });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context, page, rec,
    async proveRecorders() {
      // A dialog and a request made on purpose must show up; then the record starts empty.
      await page.goto('about:blank');
      await page.evaluate(() => alert('recorder check'));
      await page.evaluate(() => fetch('https://recorder-check.test:1/').catch(() => null));
      const ok = rec.dialogs.some((d) => d.includes('recorder check')) && rec.requests.some((u) => u.startsWith('https://recorder-check.test:1/'));
      rec.requests.length = 0;
      rec.dialogs.length = 0;
      return ok;
    },
    async close() {
      await context.close();
      execFileSync('rm', ['-rf', home]);
    },
  };
}

// Pauses: the Python side gets {"pause": name, …} on stdout, looks at the databases, and
// answers with one line on stdin (JSON, or empty).
const lines = createInterface({ input: process.stdin });
const waiting = [];
const queued = [];
lines.on('line', (l) => { if (waiting.length) waiting.shift()(l); else queued.push(l); });
export async function pause(name, data = {}) {
  process.stdout.write(JSON.stringify({ pause: name, ...data }) + '\n');
  const line = queued.length ? queued.shift() : await new Promise((resolve) => waiting.push(resolve));
  return line.trim() ? JSON.parse(line) : null;
}

export function done(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  lines.close();
}

/** The login whose session this browser has on `site`, or null (WordPress's profile page). */
export async function loggedInAs(page, site) {
  const response = await page.goto(`${site}/wp-admin/profile.php`);
  if (!response || !response.ok() || !page.url().startsWith(`${site}/wp-admin/profile.php`)) return null;
  if ((await page.locator('#wp-admin-bar-my-account').count()) === 0) return null;
  return page.inputValue('#user_login');
}

/** Logged out means WordPress sends the browser to its login form (not an error page). */
export async function loggedOut(page, site) {
  const response = await page.goto(`${site}/wp-admin/profile.php`);
  return !!response && response.ok() && page.url().startsWith(`${site}/wp-login.php`);
}

/** Fills in A's login form (reached with the given redirect_to) and clicks "Log In"; returns when it clicked. */
export async function submitLogin(page, a, user, password, redirectTo) {
  const query = redirectTo === undefined ? '' : `?redirect_to=${encodeURIComponent(redirectTo)}`;
  await page.goto(`${a}/wp-login.php${query}`);
  // wp-login.php focuses and selects the user name field 200 ms after it loads: a fill racing
  // that timer types the password over the user name. Fill once it has run.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'user_login', null, { timeout: 5000 }).catch(() => {});
  await page.fill('#user_login', user);
  await page.fill('#user_pass', password);
  const filled = await page.evaluate(() => [document.getElementById('user_login').value, document.getElementById('user_pass').value]);
  if (filled[0] !== user || filled[1] !== password) throw new Error(`the login form was not filled as asked (user field: ${filled[0]})`);
  const clicked = Date.now();
  await page.click('#wp-submit', { noWaitAfter: true });
  return clicked;
}

/** The browser's WordPress auth cookies for a host ("name=value"), to show a session is untouched. */
export async function authCookies(context, host) {
  return (await context.cookies()).filter((c) => c.domain === host && /^wordpress_(logged_in|sec)_/.test(c.name))
    .map((c) => `${c.name}=${c.value}`).sort();
}

/**
 * After a login lands on `target`: waits until single sign-on is over — the frames in the page
 * have all answered (the page marks itself data-usersync-sso="done"), or the page took the
 * redirect chain through the peers that block third-party cookies and came back to `target`.
 * Returns when every peer that can has signed the browser in.
 */
export async function ssoSettled(page, target, timeout = 60000) {
  // Navigations do not stop waitForFunction: it polls in each new document until, on the asked
  // page, no frame is left running (none there, or the page says it is done).
  await page.waitForFunction((t) => location.href === t && document.readyState === 'complete'
    && (!document.getElementById('usersync-sso') || document.documentElement.dataset.usersyncSso === 'done'),
  target, { timeout, polling: 50 });
}
