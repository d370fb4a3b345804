// Single sign-on between WordPress A and Django D in Debian's Chromium: each run is one person's
// fresh browser (third-party cookies allowed or blocked) that logs in on one site through its
// real login form, lands where it asked (or where a hostile destination is turned into), and
// finds itself signed in on the other site — or not, for an account the other may not sign in;
// then, optionally, logs out on one site (or "everywhere") and waits for the other to end its
// session too. It pauses before each login ("start"), after it ("loggedIn") and after the
// logout ("loggedOut") so the caller can read both databases.
// Prints one JSON result line.
//   node django-sso.mjs '{"a": URL, "d": URL, "ca": PEM, "runs": [{"name", "from": "a"|"d", "user",
//                          "password", "next"?, "target"?, "block3p"?, "logout"?: "a"|"d", "everywhere"?}]}'
// next: the destination the login form is given (A's redirect_to, D's next); target: where the
// run must land (then it waits there for single sign-on to finish; without it, until the browser
// has left the login and single sign-on pages).
import { cfg, done, launch, loggedInAs, loggedOut, pause, ssoSettled, submitLogin } from './lib.mjs';

/** The login this browser has on D (its /whoami), or null. */
async function dUser(page) {
  const response = await page.goto(`${cfg.d}/whoami`);
  if (!response || !response.ok()) return null;
  return JSON.parse(await page.locator('body').innerText()).user;
}

async function submitDjangoLogin(page, user, password, next) {
  await page.goto(`${cfg.d}/accounts/login/${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`);
  await page.fill('#id_username', user);
  await page.fill('#id_password', password);
  const clicked = Date.now();
  await page.click('button[type=submit]', { noWaitAfter: true });
  return clicked;
}

/** Until the browser has left the login form and the single sign-on pages, and frames are done. */
async function settle(page) {
  const passing = (u) => /[?&]usersync_sso(_bind|_accept)?=/.test(u) || /\/wp-login\.php|\/accounts\/login\//.test(new URL(u).pathname);
  const end = Date.now() + 30000;
  while (Date.now() < end) {
    if (!passing(page.url())) {
      await page.waitForLoadState('load').catch(() => {});
      const landed = page.url();
      const ok = await page.waitForFunction(() => !document.getElementById('usersync-sso')
        || document.documentElement.dataset.usersyncSso === 'done', null, { timeout: Math.max(1, end - Date.now()) })
        .then(() => true, () => false);
      if (ok && page.url() === landed && !passing(landed)) return false;
    }
    await page.waitForTimeout(100);
  }
  return true;
}

const result = { runs: [] };
let recordersWork = true;
for (const run of cfg.runs) {
  const browser = await launch({ block3p: !!run.block3p });
  const { page, rec } = browser;
  const r = { name: run.name };
  try {
    recordersWork = (await browser.proveRecorders()) && recordersWork;
    await pause('start', { name: run.name });
    const start = run.from === 'a'
      ? await submitLogin(page, cfg.a, run.user, run.password, run.next)
      : await submitDjangoLogin(page, run.user, run.password, run.next);
    if (run.target) {
      try {
        await page.waitForURL((u) => u.href === run.target, { timeout: 30000 });
        await ssoSettled(page, run.target);
      } catch (e) {
        r.error = `did not land on ${run.target}: at ${page.url()} (${e.message.split('\n')[0]})`;
      }
    } else {
      r.stuck = await settle(page);
    }
    await page.waitForTimeout(300); // a late script or navigation (a timer, a javascript: URL) would show now
    r.ms = Date.now() - start;
    r.landedOn = page.url();
    r.title = await page.title().catch(() => '');
    r.onA = await loggedInAs(page, cfg.a);
    r.onD = await dUser(page);
    await pause('loggedIn', { name: run.name });
    if (run.logout === 'a') {
      await page.goto(`${cfg.a}/wp-admin/profile.php`);
      let href = await page.getAttribute('#wp-admin-bar-logout a', 'href');
      if (run.everywhere) href += '&usersync_everywhere=1';
      await page.goto(href);
      r.loggedOutHere = await loggedOut(page, cfg.a);
      let other = 'unknown';
      for (let i = 0; i < 100 && other !== null; i++) {
        other = await dUser(page);
        if (other !== null) await page.waitForTimeout(100);
      }
      r.loggedOutThere = other === null;
    } else if (run.logout === 'd') {
      await page.goto(`${cfg.d}/profile`);
      await Promise.all([page.waitForNavigation(), page.click(run.everywhere ? '#logout-everywhere' : '#logout')]);
      r.loggedOutHere = (await dUser(page)) === null;
      let out = false;
      for (let i = 0; i < 100 && !out; i++) {
        out = await loggedOut(page, cfg.a);
        if (!out) await page.waitForTimeout(100);
      }
      r.loggedOutThere = out;
    }
    if (run.logout) await pause('loggedOut', { name: run.name });
  } catch (e) {
    r.error = (r.error ? r.error + '; ' : '') + e.message.split('\n')[0];
  } finally {
    r.requests = [...rec.requests];
    r.dialogs = [...rec.dialogs];
    r.urlsWithTickets = [...rec.urlsWithTickets];
    await browser.close();
  }
  result.runs.push(r);
}
result.recordersWork = recordersWork;
done(result);
