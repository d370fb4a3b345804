// Hostile redirect_to values on A's wp-login.php: for each, a fresh session logs in through
// A's form (A's single sign-on mode is whatever the caller configured) and the script records
// where the browser ends, what it showed there, every request it made and every dialog a script
// opened; after each it pauses ("case") so that the caller can see which peers signed the user
// in (their wp_login records). Prints one JSON result line.
//   node hostile.mjs '{"a": URL, "peers": [URL…], "user", "password", "ca", "block3p": bool,
//                      "cases": [{"name", "redirect_to"}…]}'
// Ends with "log out everywhere", so the user holds no session anywhere afterwards.
import { cfg, done, launch, loggedOut, pause, submitLogin } from './lib.mjs';

const browser = await launch({ block3p: cfg.block3p });
const { page, context, rec } = browser;
const result = { cases: [] };

/**
 * Waits until the browser has left the login form (30 s: the form post itself) and then the
 * single sign-on pages (15 s: frames give up after 5 s, a chain is a few hops).
 */
async function settle() {
  const sso = (u) => /[?&]usersync_sso(_bind|_accept|_check)?=/.test(u);
  try {
    await page.waitForURL((u) => !u.pathname.endsWith('/wp-login.php'), { timeout: 30000 });
  } catch (e) {
    const error = await page.locator('#login_error').textContent().catch(() => '');
    return { url: page.url(), stuck: true, loginError: error || 'still on the login form' };
  }
  const end = Date.now() + 20000;
  while (Date.now() < end) {
    if (!sso(page.url())) {
      await page.waitForLoadState('load').catch(() => {});
      if (!sso(page.url())) {
        // The page signs the peers in from its frames: done when it says so (or it navigates on).
        const landed = page.url();
        const done = await page.waitForFunction(() => !document.getElementById('usersync-sso')
          || document.documentElement.dataset.usersyncSso === 'done', null, { timeout: Math.max(1, end - Date.now()) })
          .then(() => true, () => false);
        if (done && page.url() === landed) return { url: page.url(), stuck: false };
      }
    }
    await page.waitForTimeout(100);
  }
  return { url: page.url(), stuck: true };
}

try {
  result.recordersWork = await browser.proveRecorders();
  for (const c of cfg.cases) {
    await context.clearCookies();
    rec.requests.length = 0;
    rec.dialogs.length = 0;
    let status = null;
    const onResponse = (r) => { if (r.frame() === page.mainFrame() && r.request().isNavigationRequest()) status = r.status(); };
    page.on('response', onResponse);
    const start = await submitLogin(page, cfg.a, cfg.user, cfg.password, c.redirect_to);
    const end = await settle();
    // A moment more: a late script or navigation (a timer, a javascript: URL) would show now.
    await page.waitForTimeout(300);
    page.off('response', onResponse);
    const r = {
      name: c.name, ms: Date.now() - start, endedOn: page.url(), stuck: end.stuck, loginError: end.loginError, status,
      title: await page.title().catch(() => ''),
      loggedInHere: (await page.locator('#wp-admin-bar-my-account').count()) > 0,
      requests: [...rec.requests], dialogs: [...rec.dialogs],
    };
    result.cases.push(r);
    await pause('case', { name: c.name });
  }
  // No session is left behind: log out everywhere from the last one.
  await page.goto(`${cfg.a}/wp-admin/profile.php`);
  const href = await page.getAttribute('#wp-admin-bar-logout a', 'href', { timeout: 5000 }).catch(() => null);
  if (href) await page.goto(`${href}&usersync_everywhere=1`);
  result.loggedOut = !!href && await loggedOut(page, cfg.a);
} finally {
  result.urlsWithTickets = rec.urlsWithTickets;
  await browser.close();
}
done(result);
