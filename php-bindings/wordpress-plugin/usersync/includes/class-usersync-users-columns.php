<?php
/**
 * What wpdb knows of the users table, kept between requests. Before wpdb writes a table it
 * asks the database for its columns (`SHOW FULL COLUMNS`, once per request and table: ≈ 0.5 ms
 * with its processing), to check each value's charset and length. A peer's create or update
 * writes the users table in every delivery; this keeps wpdb's own answers — each column's
 * charset and length, and the table's charset — in an autoloaded option, asked again when
 * WordPress's database version changes and once a day.
 *
 * While wp_insert_user() writes the account's row, wpdb is given those answers through its
 * `pre_get_col_charset` and `pre_get_table_charset` filters — only when every value fits its
 * column as kept, and only for that one write. Given the charsets, wpdb checks each value's
 * encoding as always, but not its length; a value that does not fit, or a column not kept, and
 * wpdb asks the database and checks everything itself, as without this class.
 */

defined( 'ABSPATH' ) || exit;

final class Usersync_Users_Columns {

	const OPTION = 'usersync_users_columns';

	/** @var array|null the kept answers while they are offered for the next write, else null */
	private $offered = null;

	/**
	 * Runs $write (a wp_insert_user() or wp_update_user() call) with the kept answers offered
	 * for its write of the users table; returns what $write returns.
	 */
	public static function around( callable $write ) {
		$self  = new self();
		$hooks = array(
			array( 'wp_pre_insert_user_data', array( $self, 'offer' ), PHP_INT_MAX, 1 ),
			array( 'pre_get_col_charset', array( $self, 'col_charset' ), 10, 3 ),
			array( 'pre_get_table_charset', array( $self, 'table_charset' ), 10, 2 ),
			array( 'query', array( $self, 'written' ), PHP_INT_MAX, 1 ),
		);
		return Usersync_Plugin::with_hooks( $hooks, $write );
	}

	/** wpdb's answers for the users table, as kept, or asked of wpdb now (and kept). */
	private static function kept(): array {
		global $wpdb;
		$key  = get_option( 'db_version' ) . '|' . $wpdb->users;
		$kept = get_option( self::OPTION );
		if ( is_array( $kept ) && ( $kept['key'] ?? '' ) === $key && (int) ( $kept['at'] ?? 0 ) > time() - DAY_IN_SECONDS ) {
			return $kept;
		}
		$columns = array();
		foreach ( (array) $wpdb->get_col( "SHOW COLUMNS FROM `$wpdb->users`" ) as $column ) { // phpcs:ignore WordPress.DB.PreparedSQL
			$column             = strtolower( (string) $column );
			$columns[ $column ] = array( $wpdb->get_col_charset( $wpdb->users, $column ), $wpdb->get_col_length( $wpdb->users, $column ) );
		}
		// A column that is not there is answered with the table's charset.
		$table = $wpdb->get_col_charset( $wpdb->users, "\0" );
		foreach ( $columns as $answers ) {
			if ( is_wp_error( $answers[0] ) || is_wp_error( $answers[1] ) ) {
				return array();
			}
		}
		if ( ! $columns || ! is_string( $table ) ) {
			return array();
		}
		$kept = array( 'key' => $key, 'at' => time(), 'table' => $table, 'columns' => $columns );
		update_option( self::OPTION, $kept, true );
		return $kept;
	}

	/** wp_pre_insert_user_data, last: the row as it will be written; offered when every value fits. */
	public function offer( $data ) {
		$this->offered = null;
		$kept          = is_array( $data ) ? self::kept() : array();
		if ( ! $kept ) {
			return $data;
		}
		// wp_insert_user() adds user_login (a create) or an empty user_activation_key (an update) after this filter.
		foreach ( $data + array( 'user_login' => '', 'user_activation_key' => '' ) as $column => $value ) {
			$column = strtolower( (string) $column );
			if ( ! isset( $kept['columns'][ $column ] ) || ! self::fits( $value, $kept['columns'][ $column ][1] ) ) {
				return $data;
			}
		}
		$this->offered = $kept;
		return $data;
	}

	/**
	 * A value no longer than its column. In bytes, whatever the column counts: a value that
	 * fits in bytes fits in characters, and wpdb counts bytes for a latin1 column.
	 */
	private static function fits( $value, $length ): bool {
		if ( ! is_scalar( $value ) && null !== $value ) {
			return false;
		}
		return ! is_array( $length ) || strlen( (string) $value ) <= (int) $length['length'];
	}

	private function offered_for( $table ): bool {
		global $wpdb;
		return null !== $this->offered && strtolower( (string) $table ) === strtolower( $wpdb->users );
	}

	/** pre_get_col_charset: a kept column's charset while offered. */
	public function col_charset( $charset, $table, $column ) {
		if ( null !== $charset || ! $this->offered_for( $table ) ) {
			return $charset;
		}
		return $this->offered['columns'][ strtolower( (string) $column ) ][0] ?? $this->offered['table'];
	}

	/** pre_get_table_charset: the table's charset while offered (wpdb then checks no length). */
	public function table_charset( $charset, $table ) {
		return null === $charset && $this->offered_for( $table ) ? $this->offered['table'] : $charset;
	}

	/** query: the users table is written: the answers are not offered to anything after it. */
	public function written( $query ) {
		global $wpdb;
		if ( null !== $this->offered && preg_match( '/^\s*(INSERT|UPDATE)\b/i', (string) $query ) && false !== stripos( (string) $query, $wpdb->users ) ) {
			$this->offered = null;
		}
		return $query;
	}
}
