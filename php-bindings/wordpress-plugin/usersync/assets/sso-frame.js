// usersync, inside a peer's hidden frame: posts the one message the server prepared (a binding
// hash, or whether the login cookie stuck) to the peer's origin — never to any other window.
// A binding hash goes with whether this frame may keep cookies at all ("cookies": false when the
// browser blocks third-party cookies: then the binding cookie was dropped, and its ticket would
// be refused), so the login can take the chain at once instead of trying first.
(function () {
	var el = document.getElementById('usersync-message');
	if (el && window.parent !== window) {
		var message = JSON.parse(el.getAttribute('data-message'));
		if (message.usersync === 'bind') {
			var probe = 'usersync_probe=1';
			document.cookie = probe + '; Path=/; Max-Age=10; SameSite=None; Secure';
			message.cookies = document.cookie.split('; ').indexOf(probe) >= 0;
			document.cookie = probe + '; Path=/; Max-Age=0; SameSite=None; Secure';
		}
		window.parent.postMessage(message, el.getAttribute('data-origin'));
	}
})();
