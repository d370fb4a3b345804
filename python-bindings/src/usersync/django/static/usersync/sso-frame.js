// usersync, inside a peer's hidden frame: posts the one message the server prepared (a binding
// hash, or whether the login cookie stuck) to the peer's origin — never to any other window.
(function () {
	var el = document.getElementById('usersync-message');
	if (el && window.parent !== window) {
		window.parent.postMessage(JSON.parse(el.getAttribute('data-message')), el.getAttribute('data-origin'));
	}
})();
