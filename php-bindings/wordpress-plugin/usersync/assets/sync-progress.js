/* usersync initial sync: carries out the report one batch per request (admin-ajax, with the
 * page's nonce), moving the progress bar, until every account is done or a batch changes
 * nothing; then reloads the page, which shows each account's outcome. */
( function () {
	'use strict';
	var cfg = window.usersyncSync;
	var button = document.getElementById( 'usersync-sync-run' );
	var bar = document.getElementById( 'usersync-sync-progress' );
	var status = document.getElementById( 'usersync-sync-status' );
	if ( ! cfg || ! button || ! bar || ! status ) {
		return;
	}
	function show( s ) {
		var done = s.total - s.remaining;
		bar.max = Math.max( 1, s.total );
		bar.value = done;
		status.textContent = cfg.done.replace( '%1$d', done ).replace( '%2$d', s.total );
	}
	function fail( message ) {
		status.textContent = cfg.fail + ' ' + message;
		status.setAttribute( 'data-state', 'failed' );
		button.disabled = false;
	}
	function step( before ) {
		var body = new URLSearchParams( { action: 'usersync_sync_step', peer: cfg.peer, _ajax_nonce: cfg.nonce } );
		fetch( cfg.ajax, { method: 'POST', credentials: 'same-origin', body: body } )
			.then( function ( r ) { return r.json(); } )
			.then( function ( r ) {
				if ( ! r || ! r.success ) {
					fail( r && r.data && r.data.message ? r.data.message : 'error' );
					return;
				}
				show( r.data );
				if ( r.data.remaining > 0 && r.data.remaining < before ) {
					step( r.data.remaining );
					return;
				}
				status.textContent += ' ' + cfg.end;
				status.setAttribute( 'data-state', 'finished' );
				window.setTimeout( function () { window.location.reload(); }, 600 );
			} )
			.catch( function ( e ) { fail( String( e ) ); } );
	}
	button.addEventListener( 'click', function () {
		button.disabled = true;
		status.setAttribute( 'data-state', 'running' );
		step( Infinity );
	} );
} )();
