<?php
/**
 * Removes the plugin's tables and options. Configuration lives in wp-config.php: remove the
 * USERSYNC_* constants there yourself.
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/class-usersync-schema.php';
Usersync_Schema::uninstall();
