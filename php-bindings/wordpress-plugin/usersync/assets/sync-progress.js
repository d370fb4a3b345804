/* usersync initial sync: carries out the report one batch per request (admin-ajax, with the
 * page's nonce), with cfg.inFlight requests going at once (this site seals the next batch while
 * the peer applies the last), moving the progress bar, until every account is done or the
 * batches change nothing; then reloads the page, which shows each account's outcome. */
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
		if ( done < bar.value && bar.max === Math.max( 1, s.total ) ) {
			return; // an earlier lane's answer, overtaken
		}
		bar.max = Math.max( 1, s.total );
		bar.value = done;
		status.textContent = cfg.done.replace( '%1$d', done ).replace( '%2$d', s.total );
	}
	function fail( message ) {
		status.textContent = cfg.fail + ' ' + message;
		status.setAttribute( 'data-state', 'failed' );
		button.disabled = false;
	}
	var running = 0;
	var failed = false;
	function finish() {
		if ( --running > 0 || failed ) {
			return;
		}
		status.textContent += ' ' + cfg.end;
		status.setAttribute( 'data-state', 'finished' );
		window.setTimeout( function () { window.location.reload(); }, 600 );
	}
	// One lane of requests: goes on while its steps change something.
	function step( before ) {
		var body = new URLSearchParams( { action: 'usersync_sync_step', peer: cfg.peer, _ajax_nonce: cfg.nonce } );
		fetch( cfg.ajax, { method: 'POST', credentials: 'same-origin', body: body } )
			.then( function ( r ) { return r.json(); } )
			.then( function ( r ) {
				if ( failed ) {
					return;
				}
				if ( ! r || ! r.success ) {
					failed = true;
					fail( r && r.data && r.data.message ? r.data.message : 'error' );
					return;
				}
				show( r.data );
				if ( r.data.remaining > 0 && r.data.remaining < before ) {
					step( r.data.remaining );
					return;
				}
				finish();
			} )
			.catch( function ( e ) {
				failed = true;
				fail( String( e ) );
			} );
	}
	button.addEventListener( 'click', function () {
		button.disabled = true;
		failed = false;
		status.setAttribute( 'data-state', 'running' );
		for ( running = 0; running < Math.max( 1, cfg.inFlight || 1 ); running++ ) {
			step( Infinity );
		}
	} );
} )();
