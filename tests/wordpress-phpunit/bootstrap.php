<?php
// Loads the real WordPress site run.sh installed (site shop.test, tables wp_, the plugin from
// the release zip active) into PHPUnit's process, as a command-line request.
declare(strict_types=1);

// PHPUnit includes this file inside a method: what WordPress's files assign at their top level
// must still land in the globals they read (core's own test bootstrap does the same).
global $wpdb, $table_prefix, $current_site, $current_blog, $wp_rewrite, $shortcode_tags, $wp, $phpmailer,
    $wp_theme_directories, $wp_query, $wp_the_query, $wp_roles, $wp_locale, $wp_embed, $wp_widget_factory,
    $wp_plugin_paths, $pagenow, $allowedposttags, $allowedtags, $wp_filter, $wp_actions, $wp_current_filter;

$work = getenv('USERSYNC_TEST_WORK');
if (!$work || !is_file("$work/site/wp-load.php")) {
    fwrite(STDERR, "Run these tests with tests/wordpress-phpunit/run.sh (it installs the site).\n");
    exit(2);
}
define('USERSYNC_TEST_WORK_DIR', $work);
$_SERVER['HTTP_HOST'] = 'shop.test';
$_SERVER['SERVER_NAME'] = 'shop.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
define('WP_USE_THEMES', false);
require "$work/site/wp-load.php";
require_once ABSPATH . 'wp-admin/includes/user.php';

// The end of "the request" is the end of the test run: nothing is flushed or delivered then.
// Tests call Usersync_Events::take()/flush() and Usersync_Outbox::deliver() themselves.
remove_action('shutdown', ['Usersync_Events', 'flush'], 0);
remove_action('shutdown', ['Usersync_Outbox', 'deliver_after_response'], 1000);

// bcrypt at cost 5 rather than 10: the same hashes in the same format ($wp$2y$), made in 3 ms
// rather than 80, for the hundreds of accounts the tests make.
add_filter('wp_hash_password_options', static fn($options) => ['cost' => 5] + $options);

require __DIR__ . '/UsersyncTestCase.php';
