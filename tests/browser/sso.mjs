// Logs a user in on site A in Debian's Chromium and checks the peers, then logs out on A and
// waits for the peers to log the browser out too. Prints one JSON result line.
//   node sso.mjs '{"a": URL, "peers": [URL…], "user": …, "password": …, "ca": PEM, "block3p": bool}'
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = JSON.parse(process.argv[2]);

// A fresh HOME whose NSS database trusts only the test CA the set-up generated.
const home = mkdtempSync(join(tmpdir(), 'usersync-browser-'));
const nss = `sql:${join(home, '.pki', 'nssdb')}`;
execFileSync('mkdir', ['-p', join(home, '.pki', 'nssdb')]);
execFileSync('certutil', ['-d', nss, '-N', '--empty-password']);
execFileSync('certutil', ['-d', nss, '-A', '-n', 'usersync-test-ca', '-t', 'C,,', '-i', cfg.ca]);

const args = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.test 127.0.0.1'];
// A persistent (ordinary) profile whose cookie setting is the scenario's: third-party cookies
// allowed, or blocked as Safari/ITP and Firefox do. (Playwright's default contexts are
// incognito-like, where Chromium always blocks them.)
mkdirSync(join(home, 'profile', 'Default'), { recursive: true });
writeFileSync(join(home, 'profile', 'Default', 'Preferences'), JSON.stringify({
  profile: { cookie_controls_mode: cfg.block3p ? 1 : 0, block_third_party_cookies: !!cfg.block3p },
}));
const context = await chromium.launchPersistentContext(join(home, 'profile'), {
  executablePath: '/usr/bin/chromium', headless: true, args, env: { ...process.env, HOME: home },
});
const result = { urlsWithTickets: [] };
try {
  const page = context.pages()[0] ?? await context.newPage();
  // Tickets must never appear in a URL (where servers and proxies log them).
  // Console errors (a blocked script, a CSP violation) help explain a failed run.
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`console: ${m.text()}\n`); });
  page.on('request', (r) => { if (/[?&](ticket|message)=|[A-Za-z0-9_-]{200,}/.test(r.url())) result.urlsWithTickets.push(r.url()); });

  const target = `${cfg.a}/wp-admin/profile.php?from=login`;
  await page.goto(`${cfg.a}/wp-login.php?redirect_to=${encodeURIComponent(target)}`);
  await page.fill('#user_login', cfg.user);
  await page.fill('#user_pass', cfg.password);
  const start = Date.now();
  try {
    await Promise.all([page.waitForURL((u) => u.href === target, { timeout: 30000 }), page.click('#wp-submit')]);
  } catch (e) {
    const error = await page.locator('#login_error').textContent().catch(() => '');
    throw new Error(`login did not land on ${target}: at ${page.url()} ${error}`);
  }
  result.loginMs = Date.now() - start;
  result.landedOn = page.url();

  const loggedIn = async (site) => {
    await page.goto(`${site}/wp-admin/profile.php`);
    return page.url().startsWith(`${site}/wp-admin/profile.php`) && (await page.locator('#wp-admin-bar-my-account').count()) > 0;
  };
  // Logged out means WordPress sent the browser to its login form (not an error page).
  const loggedOut = async (site) => {
    const response = await page.goto(`${site}/wp-admin/profile.php`);
    return response.ok() && page.url().startsWith(`${site}/wp-login.php`);
  };
  result.peersLoggedIn = {};
  for (const peer of cfg.peers) result.peersLoggedIn[peer] = await loggedIn(peer);

  if (cfg.logout) {
    await page.goto(`${cfg.a}/wp-admin/profile.php`);
    let href = await page.getAttribute('#wp-admin-bar-logout a', 'href');
    if (cfg.everywhere) href += '&usersync_everywhere=1';
    const t = Date.now();
    await page.goto(href);
    result.aLoggedOut = await loggedOut(cfg.a);
    result.peersLoggedOut = {};
    for (const peer of cfg.peers) {
      let out = false;
      for (let i = 0; i < 100 && !out; i++) {
        out = await loggedOut(peer);
        if (!out) await page.waitForTimeout(100);
      }
      result.peersLoggedOut[peer] = out;
    }
    result.logoutMs = Date.now() - t;
    // Having reached each peer once more, the browser holds no auth cookie for the ended sessions.
    const names = (await context.cookies()).filter((c) => c.name.startsWith('wordpress_logged_in_') || c.name.startsWith('wordpress_sec_'));
    result.authCookiesLeft = names.map((c) => `${c.domain} ${c.name}`);
  }
} finally {
  await context.close();
  execFileSync('rm', ['-rf', home]);
}
console.log(JSON.stringify(result));
