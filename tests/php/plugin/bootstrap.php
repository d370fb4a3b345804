<?php
// Loads the plugin as WordPress would under WP-CLI, with just enough of WordPress and of the
// WP_CLI API stood in to test the command classes' argument and output handling. The real
// commands run on real sites in tests/e2e/health.py; WP-CLI itself is not installable here.
declare(strict_types=1);

define('ABSPATH', __DIR__ . '/');
define('WP_CLI', true);
define('DAY_IN_SECONDS', 86400);
define('HOUR_IN_SECONDS', 3600);
// This site's link configuration, as wp-config.php defines it (the secret is made per run).
define('USERSYNC_SITE_ID', 'shop.test');
define('USERSYNC_PEERS', [
    ['id' => 'blog.test', 'url' => 'https://blog.test', 'secrets' => [(static function () {
        require_once dirname(__DIR__, 3) . '/php-bindings/autoload.php';
        return Usersync\Secret::generate();
    })()],
     'send' => ['actions' => ['create', 'update', 'password'], 'roles' => ['subscriber', 'customer'], 'meta' => ['billing_*']],
     'accept' => ['actions' => ['create', 'update'], 'roles' => ['subscriber', 'editor'], 'meta' => [], 'allow_privileged' => true],
     'ip_allow' => ['203.0.113.7/32'], 'deliver_to' => 'http://10.0.0.5'],
]);

/** WP_CLI::error() exits with status 1; here it throws this, so a test sees the status. */
final class WP_CLI_Exit extends RuntimeException
{
}

/** What the commands told WP-CLI, in order: [kind, …]. */
final class WP_CLI
{
    public static array $said = [];
    public static array $commands = [];

    public static function add_command(string $name, $callable): void
    {
        self::$commands[$name] = $callable;
    }
    public static function line(string $text): void
    {
        self::$said[] = ['line', $text];
    }
    public static function success(string $text): void
    {
        self::$said[] = ['success', $text];
    }
    public static function warning(string $text): void
    {
        self::$said[] = ['warning', $text];
    }
    public static function error(string $text): void
    {
        self::$said[] = ['error', $text];
        throw new WP_CLI_Exit($text, 1);
    }
}

require __DIR__ . '/wp-cli-utils.php';

// The few WordPress functions loading the plugin and the tested helpers call.
function add_action(...$a): void
{
}
function add_filter(...$a): void
{
}
function register_activation_hook(...$a): void
{
}
function __(string $text, string $domain = 'default'): string
{
    return $text;
}
function home_url(): string
{
    return 'https://shop.test/';
}
function untrailingslashit(string $s): string
{
    return rtrim($s, '/\\');
}
function wp_json_encode($v): string
{
    return json_encode($v, JSON_UNESCAPED_SLASHES);
}

require dirname(__DIR__, 3) . '/php-bindings/wordpress-plugin/usersync/usersync.php';
