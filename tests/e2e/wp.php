<?php
// Acts on one real WordPress site from the command line, the way the site's own code would:
//   php wp.php SITE_DIR COMMAND 'JSON arguments'   → JSON result on stdout
// WordPress's hooks run as in any request (the plugin's outbox is written and delivered at
// shutdown), so a change made here syncs exactly like one made in wp-admin.
declare(strict_types=1);

[$_, $site, $command] = $argv;
$args = json_decode($argv[3] ?? '{}', true, 64, JSON_THROW_ON_ERROR);
$_SERVER['HTTP_HOST'] = parse_url(getenv('SITE_URL') ?: 'http://127.0.0.1', PHP_URL_HOST);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_USE_THEMES', false);
require $site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

function user_or_fail(string $login): WP_User {
    $u = get_user_by('login', $login);
    if (!$u) {
        fwrite(STDERR, "no user $login\n");
        exit(3);
    }
    return $u;
}

$out = null;
switch ($command) {
    case 'create_user':
        $id = wp_insert_user(['user_login' => $args['login'], 'user_email' => $args['email'], 'user_pass' => $args['password'],
                              'role' => $args['role'] ?? 'subscriber', 'display_name' => $args['display_name'] ?? $args['login']]);
        if (is_wp_error($id)) {
            fwrite(STDERR, $id->get_error_message() . "\n");
            exit(3);
        }
        foreach ($args['meta'] ?? [] as $k => $v) {
            update_user_meta($id, $k, $v);
        }
        $out = ['id' => $id];
        break;
    case 'update_user':
        $u = user_or_fail($args['login']);
        $out = wp_update_user(['ID' => $u->ID] + $args['set']);
        break;
    case 'set_role':
        user_or_fail($args['login'])->set_role($args['role']);
        break;
    case 'update_meta':
        update_user_meta(user_or_fail($args['login'])->ID, $args['key'], $args['value']);
        break;
    case 'set_password':
        wp_set_password($args['password'], user_or_fail($args['login'])->ID);
        break;
    case 'delete_user':
        $to = isset($args['reassign']) ? user_or_fail($args['reassign'])->ID : null;
        wp_delete_user(user_or_fail($args['login'])->ID, $to);
        break;
    case 'get_user':
        $u = get_user_by('login', $args['login']);
        $out = $u ? ['exists' => true, 'email' => $u->user_email, 'display_name' => $u->display_name, 'roles' => array_values($u->roles),
                     'pass_hash' => $u->user_pass, 'meta' => array_map(fn($v) => $v, array_filter(get_user_meta($u->ID), fn($k) => !str_starts_with($k, 'session_tokens'), ARRAY_FILTER_USE_KEY))]
                  : ['exists' => false];
        break;
    case 'state':
        // Everything a refused message must leave untouched: users and their meta.
        global $wpdb;
        $out = md5(json_encode([$wpdb->get_results("SELECT * FROM $wpdb->users ORDER BY ID"),
                                $wpdb->get_results("SELECT * FROM $wpdb->usermeta ORDER BY umeta_id")]));
        break;
    case 'cache_flush':
        $out = wp_cache_flush();
        break;
    case 'uid':
        $out = Usersync_Links::uid_of(user_or_fail($args['login'])->ID);
        break;
    case 'outbox':
        global $wpdb;
        $out = $wpdb->get_results('SELECT id, peer, act, login, attempts, last_error FROM ' . Usersync_Schema::tables()['outbox'] . ' ORDER BY id', ARRAY_A);
        break;
    case 'log':
        $out = array_map(fn($r) => (array) $r, array_reverse(Usersync_Log::recent(500)));
        break;
    case 'build':
        // As a peer's outbox would: every event with its own event id unless the test gives one.
        $out = Usersync_Settings::context()->build($args['event'] + ['eid' => Usersync\Secret::uid()], $args['peer'] ?? null);
        break;
    case 'mint':
        try {
            $out = Usersync_Settings::context()->mintTicket($args['request']);
        } catch (Usersync\Exception $e) {
            fwrite(STDERR, $e->reason . "\n");
            exit(4);
        }
        break;
    case 'seal':
        // Forging for refusal tests: any claims, sealed with a link's secret. An action without
        // an eid gets a fresh one, as a peer's outbox would send (tests that need it absent say so).
        $claims = $args['claims'];
        if (($claims['typ'] ?? '') === 'action' && !array_key_exists('eid', $claims) && empty($args['no_eid'])) {
            $claims['eid'] = Usersync\Secret::uid();
        }
        $out = (new Usersync\Keyring($args['secrets']))->seal($args['aad'], json_encode($claims));
        break;
    case 'deliver':
        do_action('usersync_deliver');
        break;
    // ---- for tests/e2e/identity.py ----
    case 'create_local_user':
        // An account as it is when it existed before the link (or was made while usersync was
        // off): every usersync hook is detached for this request, so no uid is minted and
        // nothing is sent.
        foreach ($GLOBALS['wp_filter'] as $hook => $wp_hook) {
            foreach ($wp_hook->callbacks as $priority => $callbacks) {
                foreach ($callbacks as $callback) {
                    $f = $callback['function'];
                    if (is_array($f) && is_string($f[0]) && str_starts_with($f[0], 'Usersync_')) {
                        remove_action($hook, $f, $priority);
                    }
                }
            }
        }
        $id = wp_insert_user(['user_login' => $args['login'], 'user_email' => $args['email'], 'user_pass' => $args['password'],
                              'role' => $args['role']]);
        if (is_wp_error($id)) {
            fwrite(STDERR, $id->get_error_message() . "\n");
            exit(3);
        }
        $out = ['id' => $id];
        break;
    case 'add_role':
        user_or_fail($args['login'])->add_role($args['role']);
        break;
    case 'check_password':
        // Whether a password opens the account, as the login form asks WordPress.
        $u = user_or_fail($args['login']);
        $out = ['ok' => wp_check_password($args['password'], $u->user_pass, $u->ID)];
        break;
    case 'hash_password':
        // A hash as this site makes them (WordPress 6.8: $wp$2y$…), for a forged password action.
        $out = wp_hash_password($args['password']);
        break;
    // ---- for tests/e2e/initial_sync.py: the functions behind `wp usersync sync` ----
    case 'sync_report':
        $out = Usersync_Sync::report($args['peer'], $args['batch'] ?? Usersync_Sync::BATCH);
        break;
    case 'sync_run':
        $out = Usersync_Sync::run($args['peer'], $args['batch'] ?? Usersync_Sync::BATCH, static function (array $s): void {
            fwrite(STDERR, json_encode(['progress' => $s]) . "\n");
        });
        break;
    case 'sync_rows':
        $out = Usersync_Sync::rows($args['peer']);
        break;
    case 'links':
        global $wpdb;
        $out = $wpdb->get_results("SELECT u.user_login AS login, k.uid FROM {$wpdb->users} u JOIN " . Usersync_Schema::tables()['links'] . ' k ON k.user_id = u.ID ORDER BY u.user_login', ARRAY_A);
        break;
    // ---- for tests/e2e/health.py: the plain functions behind the settings page and `wp usersync` ----
    case 'health_test':
        $out = Usersync_Health::test($args['peer']);
        break;
    case 'health_status':
        $out = Usersync_Health::status();
        break;
    case 'health_results':
        $out = Usersync_Health::results();
        break;
    default:
        fwrite(STDERR, "unknown command $command\n");
        exit(2);
}
echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
