// usersync, on the login form: binds the browser on every peer while the user types. One hidden
// frame per peer goes to the peer's binding step, which sets its binding cookie and sends back
// the cookie's hash (only messages from that peer's origin count); the hash goes into the form
// (usersync_bnd[peer]), so that after the login the asked page can post each peer a ticket bound
// to it at once. A frame that reports its cookies blocked adds usersync_blocked: the login then
// takes the redirect chain. A login sent before every frame answered is not held back: the
// asked page binds those peers itself.
(function () {
	var el = document.getElementById('usersync-login');
	var form = el && el.closest('form');
	if (!form) { return; }
	var c = JSON.parse(el.getAttribute('data-config'));
	function field(name, value) {
		var i = document.createElement('input');
		i.type = 'hidden';
		i.name = name;
		i.value = value;
		form.appendChild(i);
	}
	window.addEventListener('message', function (e) {
		var peer = Object.keys(c.peers).filter(function (p) { return c.peers[p].origin === e.origin; })[0];
		if (!peer || !e.data || e.data.usersync !== 'bind' || typeof e.data.bnd !== 'string') { return; }
		delete c.peers[peer]; // one answer per peer
		if (e.data.cookies === false) {
			field('usersync_blocked', '1');
		} else {
			field('usersync_bnd[' + peer + ']', e.data.bnd);
		}
	});
	Object.keys(c.peers).forEach(function (peer) {
		var f = document.createElement('iframe');
		f.hidden = true;
		f.src = c.peers[peer].bind;
		document.body.appendChild(f);
	});
})();
