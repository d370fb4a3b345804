<?php
// One request to a test site in its own PHP process, for what PHPUnit's process cannot be: a
// site with other constants, another table prefix, or no library.
//   USERSYNC_TEST_SITE=other php site.php COMMAND 'JSON arguments'   → JSON result on stdout
// WordPress's shutdown hooks run as at the end of any request: the plugin flushes its events
// into the outbox and delivers.
declare(strict_types=1);

[$_, $command] = $argv;
$args = json_decode($argv[2] ?? '{}', true, 64, JSON_THROW_ON_ERROR);
$_SERVER['HTTP_HOST'] = 'shop.test';
$_SERVER['SERVER_NAME'] = 'shop.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_USE_THEMES', false);
require getenv('USERSYNC_TEST_WORK') . '/site/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

function usersync_test_tables(): array
{
    global $wpdb;
    return $wpdb->get_col($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->esc_like($wpdb->prefix . 'usersync_') . '%'));
}

$out = null;
switch ($command) {
    case 'problem':
        $out = ['problem' => Usersync_Settings::problem(), 'context' => null !== Usersync_Settings::context()];
        break;
    case 'signup':
        // A sign-up with meta, as a registration form with extra fields makes it.
        $id = wp_insert_user(['user_login' => $args['login'], 'user_email' => $args['email'], 'user_pass' => 'pw-' . $args['login'],
            'first_name' => $args['first_name'] ?? '', 'role' => 'subscriber']);
        if (is_wp_error($id)) {
            fwrite(STDERR, $id->get_error_message());
            exit(3);
        }
        foreach ($args['meta'] ?? [] as $key => $value) {
            update_user_meta($id, $key, $value);
        }
        $out = ['id' => $id];
        break;
    case 'meta':
        foreach ($args['set'] ?? [] as $key => $value) {
            update_user_meta($args['id'], $key, $value);
        }
        foreach ($args['delete'] ?? [] as $key) {
            delete_user_meta($args['id'], $key);
        }
        break;
    case 'schema':
        // Uninstall, then install again: the tables and the schema option at each step.
        update_option('usersync_sync_cursor_0123456789abcdef', 5); // an initial sync's cursor
        update_option(Usersync_Users_Columns::OPTION, ['key' => 'kept']);
        Usersync_Schema::uninstall();
        $after_uninstall = ['tables' => usersync_test_tables(), 'option' => get_option(Usersync_Schema::OPTION),
            'cursor' => get_option('usersync_sync_cursor_0123456789abcdef'), 'columns' => get_option(Usersync_Users_Columns::OPTION)];
        Usersync_Schema::install();
        global $wpdb;
        $collations = [];
        foreach ($wpdb->get_results('SHOW FULL COLUMNS FROM ' . Usersync_Schema::tables()['links']) as $column) {
            $collations[$column->Field] = $column->Collation;
        }
        $out = ['uninstalled' => $after_uninstall, 'installed' => ['tables' => usersync_test_tables(),
            'option' => get_option(Usersync_Schema::OPTION), 'links_collations' => $collations]];
        break;
    case 'update_user':
        // wp_update_user() as the inbox runs it (through Usersync_Users_Columns, unless 'plain'):
        // its result, the stored row's display_name, and the queries this request sent.
        global $wpdb;
        if (isset($args['db_version'])) {
            update_option('db_version', $args['db_version']);
        }
        $queries = [];
        add_filter('query', static function ($query) use (&$queries) { $queries[] = $query; return $query; });
        $name = base64_decode($args['display_name']); // any bytes
        $update = static fn() => wp_update_user(['ID' => $args['id'], 'display_name' => $name]);
        $result = empty($args['plain']) ? Usersync_Users_Columns::around($update) : $update();
        $out = ['result' => is_wp_error($result) ? $result->get_error_code() : $result, 'queries' => $queries,
            'stored' => base64_encode((string) $wpdb->get_var($wpdb->prepare("SELECT display_name FROM $wpdb->users WHERE ID = %d", $args['id']))),
            'kept' => get_option('usersync_users_columns')];
        break;
    case 'uid':
        $out = Usersync_Links::uid_of((int) $args['id']);
        break;
    default:
        fwrite(STDERR, "unknown command $command\n");
        exit(2);
}
echo json_encode($out, JSON_UNESCAPED_SLASHES);
