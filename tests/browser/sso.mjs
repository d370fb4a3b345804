// Logs a user in on site A in Debian's Chromium and checks the peers, then logs out on A and
// waits for the peers to log the browser out too. Prints one JSON result line.
//   node sso.mjs '{"a": URL, "peers": [URL…], "user": …, "password": …, "ca": PEM, "block3p": bool,
//                  "logout": bool, "everywhere": bool, "pauses": ["loggedIn"]?}'
// With "loggedIn" in pauses it stops once the peers are checked (still logged in) so the caller
// can count the sessions each site holds, and goes on when told.
import { cfg, done, launch, loggedInAs, loggedOut, pause, ssoSettled, submitLogin } from './lib.mjs';

const browser = await launch({ block3p: cfg.block3p });
const { page, context, rec } = browser;
const result = {};
try {
  result.recordersWork = await browser.proveRecorders();
  const target = `${cfg.a}/wp-admin/profile.php?from=login`;
  const start = await submitLogin(page, cfg.a, cfg.user, cfg.password, target);
  const clicked = rec.requests.length; // what the login made the browser ask for, from here
  try {
    await page.waitForURL((u) => u.href === target, { timeout: 30000 });
    await page.waitForLoadState('load');
    // The asked page is there (its frames may still be signing the peers in).
    result.pageMs = Date.now() - start;
    await ssoSettled(page, target);
  } catch (e) {
    const error = await page.locator('#login_error').textContent().catch(() => '');
    throw new Error(`login did not land on ${target}, or single sign-on did not finish there: at ${page.url()} ${error} (${e.message.split("\n")[0]})`);
  }
  // From the click until the asked page is loaded and every peer that can has signed in.
  result.loginMs = Date.now() - start;
  result.landedOn = page.url();
  result.loginRequests = rec.requests.slice(clicked);

  result.peersLoggedIn = {};
  result.peersLogin = {};
  for (const peer of cfg.peers) {
    result.peersLogin[peer] = await loggedInAs(page, peer);
    result.peersLoggedIn[peer] = result.peersLogin[peer] === cfg.user;
  }
  if ((cfg.pauses ?? []).includes('loggedIn')) await pause('loggedIn');

  if (cfg.logout) {
    await page.goto(`${cfg.a}/wp-admin/profile.php`);
    let href = await page.getAttribute('#wp-admin-bar-logout a', 'href');
    if (cfg.everywhere) href += '&usersync_everywhere=1';
    const t = Date.now();
    await page.goto(href);
    result.aLoggedOut = await loggedOut(page, cfg.a);
    result.peersLoggedOut = {};
    for (const peer of cfg.peers) {
      let out = false;
      for (let i = 0; i < 100 && !out; i++) {
        out = await loggedOut(page, peer);
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
  result.urlsWithTickets = rec.urlsWithTickets;
  result.requests = rec.requests;
  result.dialogs = rec.dialogs;
  await browser.close();
}
done(result);
