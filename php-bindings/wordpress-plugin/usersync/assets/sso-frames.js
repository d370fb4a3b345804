// usersync single sign-on in hidden frames, in the page the user asked for after logging in (or
// an interstitial when that page is a peer's). It opens one frame per peer once it listens for
// their messages (a frame in the markup could answer before this script ran: lost, its peer never
// signed in). A peer the login form already bound comes with its ticket: it is posted into the
// frame at once. Any other peer's frame first sets that peer's binding cookie and sends back its
// hash; this page asks its own site for a ticket bound to it and posts the ticket into the frame.
// Either way the frame then answers whether the peer signed the browser in; a peer that refused
// the login form's binding (its cookie expired, or another tab bound the browser since) is bound
// again from here once, before the chain is tried. Only
// messages from a configured peer's origin count. Every address it goes to came from the server:
// when all have answered it stays (or goes to "done"), or, for peers whose cookies the browser
// blocks, takes the chain through them back to the asked page. It then marks the document
// (data-usersync-sso="done") for anything that waits on it.
// A peer whose frame has not bound within the timeout gets no ticket here ("auto" tries it by the
// chain); a peer that has its ticket is waited for up to twice as long again: it is deciding, and
// a second try could only start a second session beside the one its answer is about to confirm.
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
	function post(peer, ticket) {
		if (finished || pending.indexOf(peer) < 0) { return; } // given up on meanwhile: no ticket goes out
		posted[peer] = true;
		var f = document.createElement('form');
		f.method = 'post';
		f.action = ticket.accept;
		f.target = c.peers[peer].frame;
		[['ticket', ticket.ticket], ['mode', 'frame'], ['from', c.site]].forEach(function (kv) {
			var i = document.createElement('input');
			i.type = 'hidden';
			i.name = kv[0];
			i.value = kv[1];
			f.appendChild(i);
		});
		document.body.appendChild(f);
		f.submit();
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
	window.addEventListener('message', function (e) {
		var peer = pending.filter(function (p) { return c.peers[p].origin === e.origin; })[0];
		if (!peer || !e.data || typeof e.data !== 'object') { return; }
		if (e.data.usersync === 'bind' && typeof e.data.bnd === 'string') {
			ticketFor(peer, e.data.bnd);
		} else if (e.data.usersync === 'sso') {
			if (!e.data.ok && e.data.retry && c.peers[peer].ticket && !rebound[peer]) {
				rebound[peer] = true; // the login form's binding did not hold: bind from here
				posted[peer] = false;
				frames[peer].src = c.peers[peer].bind;
				return;
			}
			settle(peer, !e.data.ok && !!e.data.retry);
		}
	});
	var frames = {};
	Object.keys(c.peers).forEach(function (peer) {
		var f = frames[peer] = document.createElement('iframe');
		f.name = c.peers[peer].frame;
		f.hidden = true;
		if (!c.peers[peer].ticket) { f.src = c.peers[peer].bind; }
		document.body.appendChild(f);
		if (c.peers[peer].ticket) { post(peer, c.peers[peer].ticket); }
	});
	setTimeout(function () {
		pending.filter(function (p) { return !posted[p]; }).forEach(function (p) { settle(p, true); });
		setTimeout(function () { pending.slice().forEach(function (p) { settle(p, false); }); }, 2 * c.timeout);
	}, c.timeout);
	if (!pending.length) { finish(); }
})();
