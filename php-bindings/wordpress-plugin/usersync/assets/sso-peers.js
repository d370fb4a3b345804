// usersync single sign-on from the page the user asked for after logging in (or an interstitial
// when that page is a peer's): it signs the browser in on every peer with one credentialed
// cross-site request per peer, while the page loads. (Requests, not frames: a frame to another
// site costs the browser a process of its own and a page load, and held the peers back by
// hundreds of milliseconds.) A peer the login form already bound comes with its ticket: it is
// posted at once. Any other peer is asked for its binding cookie first (its answer is the
// cookie's hash); this page asks its own site for a ticket bound to it and posts that. Either
// way the peer answers whether it signed the browser in; a peer that refused the login form's
// binding (its cookie expired, or another tab bound the browser since) is bound again from here
// once, before the chain is tried. Every address it goes to came from the server, and a peer's
// answer is read only because the peer allows this site's origin (CORS): when all have answered
// it stays (or goes to "done"), or, for peers whose cookies the browser blocks (a ticket refused
// for want of its binding cookie), takes the chain through them back to the asked page. It then
// marks the document (data-usersync-sso="done") for anything that waits on it.
// It runs from the head, before the page's own scripts. A peer not bound within the timeout gets
// no ticket here ("auto" tries it by the chain); a peer that has its ticket is waited for up to
// twice as long again: it is deciding, and a second try could only start a second session
// beside the one its answer is about to confirm. The requests are keepalive: a user who leaves
// the page at once still gets each peer's cookies (no session on a peer without its cookie).
(function () {
	var el = document.getElementById('usersync-sso');
	var c = JSON.parse(el.getAttribute('data-config'));
	var pending = Object.keys(c.peers), retry = [], posted = {}, rebound = {}, finished = false;

	function finish() {
		if (finished) { return; }
		finished = true;
		if (retry.length && c.fallback) {
			location.replace(c.chain + encodeURIComponent(retry.join(',')));
		} else if (c.done) {
			location.replace(c.done);
		} else {
			document.documentElement.setAttribute('data-usersync-sso', 'done');
		}
	}
	function settle(peer, again) {
		var i = pending.indexOf(peer);
		if (i < 0) { return; }
		pending.splice(i, 1);
		if (again) { retry.push(peer); }
		if (!pending.length) { finish(); }
	}
	// A credentialed request to a peer; its JSON answer, or null (refused, unreadable, offline).
	function ask(url, body) {
		return fetch(url, { method: body ? 'POST' : 'GET', body: body, credentials: 'include', cache: 'no-store', referrerPolicy: 'no-referrer', keepalive: true })
			.then(function (r) { return r.ok ? r.json() : null; })
			.catch(function () { return null; });
	}
	function bind(peer) {
		ask(c.peers[peer].bind).then(function (a) {
			if (a && a.usersync === 'bind' && typeof a.bnd === 'string') { ticketFor(peer, a.bnd); } else { settle(peer, true); }
		});
	}
	function ticketFor(peer, bnd) {
		var body = new URLSearchParams({ peer: peer, bnd: bnd, nonce: c.nonce });
		fetch(c.ticket, { method: 'POST', body: body, credentials: 'same-origin' })
			.then(function (r) { return r.json(); })
			.then(function (r) {
				if (r && r.success) { post(peer, r.data); } else { settle(peer, false); }
			})
			.catch(function () { settle(peer, false); });
	}
	function post(peer, ticket) {
		if (finished || pending.indexOf(peer) < 0) { return; } // given up on meanwhile: no ticket goes out
		posted[peer] = true;
		ask(ticket.accept, new URLSearchParams({ ticket: ticket.ticket, mode: 'fetch', from: c.site })).then(function (a) {
			if (!a || a.usersync !== 'sso') {
				settle(peer, false); // no answer to read: it may have signed in; a second ticket could start a second session
			} else if (!a.ok && a.retry && c.peers[peer].ticket && !rebound[peer]) {
				rebound[peer] = true; // the login form's binding did not hold: bind from here
				posted[peer] = false;
				bind(peer);
			} else {
				settle(peer, !a.ok && !!a.retry);
			}
		});
	}
	Object.keys(c.peers).forEach(function (peer) {
		if (c.peers[peer].ticket) { post(peer, c.peers[peer].ticket); } else { bind(peer); }
	});
	setTimeout(function () {
		pending.filter(function (p) { return !posted[p]; }).forEach(function (p) { settle(p, true); });
		setTimeout(function () { pending.slice().forEach(function (p) { settle(p, false); }); }, 2 * c.timeout);
	}, c.timeout);
	if (!pending.length) { finish(); }
})();
