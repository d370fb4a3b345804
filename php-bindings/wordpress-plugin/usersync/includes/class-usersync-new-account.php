<?php
/**
 * A peer's new account, made by wp_insert_user() in fewer database round trips: the same rows,
 * every hook fired as often and with the same arguments.
 *
 * - The meta rows wp_insert_user() writes itself (the default meta, any custom meta, the role's
 *   two rows) go in one INSERT when WordPress empties the new account's cache right after the
 *   last of them (`clean_user_cache`), or earlier when anything queries the meta table. Each
 *   row's `add_user_meta` and `added_user_meta` fire then, in the order WordPress wrote them,
 *   with the row's id. Until then the rows are in the account's meta cache as the database will
 *   have them: the account exists in this transaction only, so nothing else writes its meta.
 * - A key the account has no row for is added by update_user_meta() without looking for one
 *   first (as update_metadata() itself does when the lookup finds none).
 * - Core's user count (four queries after `user_register`) is counted after the answer, at
 *   shutdown: the inbox answers before its shutdown work.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_New_Account {

	/** @var int the account wp_insert_user() just made, once it says so */
	private $id = 0;

	/** @var array<string, true> its meta keys that have rows (written or waiting) */
	private $keys = array();

	/** @var array<string, true> the keys wp_insert_user() writes itself and has not written yet */
	private $own = array();

	/** @var array[] rows waiting for the INSERT: [key, value as add_metadata() was given it] */
	private $waiting = array();

	/** @var bool the waiting rows are being written and their hooks fired */
	private $writing = false;

	/** @return int|WP_Error what wp_insert_user( $userdata ) returns */
	public static function insert( array $userdata ) {
		$self  = new self();
		$hooks = array(
			array( 'insert_user_meta', array( $self, 'started' ), PHP_INT_MAX, 3 ),
			array( 'insert_custom_user_meta', array( $self, 'custom' ), PHP_INT_MAX, 1 ),
			array( 'add_user_metadata', array( $self, 'wait' ), PHP_INT_MAX, 5 ),
			array( 'update_user_metadata', array( $self, 'add_new_key' ), PHP_INT_MAX, 4 ),
			array( 'added_user_meta', array( $self, 'added' ), PHP_INT_MAX, 3 ),
			array( 'clean_user_cache', array( $self, 'write' ), PHP_INT_MIN, 0 ),
			array( 'query', array( $self, 'before_query' ), PHP_INT_MAX, 1 ),
		);
		$count = has_action( 'user_register', 'wp_maybe_update_user_counts' );
		if ( false !== $count ) {
			remove_action( 'user_register', 'wp_maybe_update_user_counts', $count );
		}
		try {
			return Usersync_Plugin::with_hooks(
				$hooks,
				static function () use ( $self, $userdata ) {
					$id = wp_insert_user( $userdata );
					$self->write();
					return $id;
				}
			);
		} finally {
			if ( false !== $count ) {
				add_action( 'user_register', 'wp_maybe_update_user_counts', $count, 0 );
				add_action( 'shutdown', 'wp_maybe_update_user_counts', 10, 0 ); // once, however many creates
			}
		}
	}

	/** insert_user_meta: the account is new; the rows WordPress writes next are its own. */
	public function started( $meta, $user, $update ) {
		global $wpdb;
		if ( ! $update ) { // (again for an account a user_register callback makes: its rows are written by then)
			$this->write();
			$this->id   = (int) $user->ID;
			$this->keys = array();
			$role_rows = array( $user->cap_key, $wpdb->get_blog_prefix() . 'user_level' ); // set_role()'s
			$this->own = array_fill_keys( array_merge( array_keys( (array) $meta ), $role_rows ), true );
		}
		return $meta;
	}

	/** insert_custom_user_meta: wp_insert_user()'s meta_input rows are its own too. */
	public function custom( $custom ) {
		if ( $this->id ) {
			$this->own += array_fill_keys( array_keys( (array) $custom ), true );
		}
		return $custom;
	}

	/**
	 * add_user_metadata: one of wp_insert_user()'s own rows waits for the INSERT. Any other row
	 * (a plugin's, a second row of a key) is added the usual way, after the waiting ones. add_metadata()
	 * returns true for a waiting row instead of its id: wp_insert_user() does not use it.
	 */
	public function wait( $check, $object_id, $meta_key, $meta_value, $unique ) {
		if ( null !== $check || $unique || $this->writing || ! $this->id || (int) $object_id !== $this->id || ! isset( $this->own[ $meta_key ] ) ) {
			return $check;
		}
		unset( $this->own[ $meta_key ] );
		$this->keys[ $meta_key ] = true;
		$this->waiting[]         = array( $meta_key, $meta_value );
		$cache                   = wp_cache_get( $this->id, 'user_meta' );
		if ( is_array( $cache ) ) {
			$cache[ $meta_key ][] = maybe_serialize( $meta_value ); // as the database will hold it
			wp_cache_set( $this->id, $cache, 'user_meta' );
		}
		return true;
	}

	/**
	 * update_user_metadata: a key the new account has no row for is added directly. update_metadata()
	 * passes both unslashed and sanitized; add_metadata() unslashes them (and sanitizes the value
	 * once more, as it does any value).
	 */
	public function add_new_key( $check, $object_id, $meta_key, $meta_value ) {
		if ( null !== $check || ! $this->id || (int) $object_id !== $this->id || isset( $this->keys[ $meta_key ] ) ) {
			return $check;
		}
		return add_metadata( 'user', $this->id, wp_slash( $meta_key ), wp_slash( $meta_value ) );
	}

	/** added_user_meta: a row added the usual way gives its key rows. */
	public function added( $unused_meta_id, $object_id, $meta_key ): void {
		if ( $this->id && (int) $object_id === $this->id ) {
			$this->keys[ $meta_key ] = true;
		}
	}

	/** query: the meta table is about to be read or written: the waiting rows are written first. */
	public function before_query( $query ) {
		global $wpdb;
		if ( $this->waiting && ! $this->writing && false !== stripos( (string) $query, $wpdb->usermeta ) ) {
			$this->write();
		}
		return $query;
	}

	/** Writes the waiting rows in one INSERT, then fires each one's add_user_meta and added_user_meta. */
	public function write(): void {
		global $wpdb;
		if ( ! $this->waiting || $this->writing ) {
			return;
		}
		$rows          = $this->waiting;
		$this->waiting = array();
		$this->writing = true;
		try {
			$values = array();
			foreach ( $rows as list( $key, $value ) ) {
				array_push( $values, $this->id, $key, maybe_serialize( $value ) );
			}
			$sql = "INSERT INTO $wpdb->usermeta (user_id, meta_key, meta_value) VALUES " . implode( ', ', array_fill( 0, count( $rows ), '(%d, %s, %s)' ) );
			if ( false === $wpdb->query( $wpdb->prepare( $sql, $values ) ) ) { // phpcs:ignore WordPress.DB.PreparedSQL
				throw new Usersync_Database_Failed( $wpdb->last_error );
			}
			// The rows' ids in the order written: from the first one's on, not always consecutive
			// (innodb_autoinc_lock_mode 2); only this transaction writes the new account's rows.
			$ids = $wpdb->get_col( $wpdb->prepare( "SELECT umeta_id FROM $wpdb->usermeta WHERE user_id = %d AND umeta_id >= %d ORDER BY umeta_id LIMIT %d", $this->id, $wpdb->insert_id, count( $rows ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL
			if ( count( $ids ) !== count( $rows ) ) {
				throw new Usersync_Database_Failed( $wpdb->last_error ? $wpdb->last_error : 'the new account\'s meta rows were not found' );
			}
			foreach ( $rows as $i => list( $key, $value ) ) {
				do_action( 'add_user_meta', $this->id, $key, $value );
				do_action( 'added_user_meta', (int) $ids[ $i ], $this->id, $key, $value );
			}
		} finally {
			$this->writing = false;
		}
	}
}
