<?php
// The test sites' usersync settings, read by wp-config-local.php (written by run.sh). Which
// site a process is, is chosen by USERSYNC_TEST_SITE:
//   shop (default)  table prefix wp_, site shop.test, peers blog.test and news.test (the stub)
//                   and down.test (where nothing listens)
//   other           table prefix wp2_, site other.test, peer blog.test: a second site on the server
//   unconfigured    shop's tables without USERSYNC_SITE_ID
//   nolib           shop with USERSYNC_LIBRARY naming a file that does not exist
// The secrets and the stub's address are made per run (links.json).

$usersync_links   = json_decode((string) file_get_contents(USERSYNC_TEST_LINKS), true);
$usersync_variant = getenv('USERSYNC_TEST_SITE') ?: 'shop';
$usersync_stub    = $usersync_links['stub_url'];
$usersync_secrets = $usersync_links['secrets'];

// wp-config.php set it already; $GLOBALS because PHPUnit loads WordPress inside a function.
$GLOBALS['table_prefix'] = 'other' === $usersync_variant ? 'wp2_' : 'wp_';

// The site blocks outgoing HTTP (WP_HTTP_BLOCK_EXTERNAL): its peers' address is let through,
// as a site owner lets a peer on another host through.
define('WP_ACCESSIBLE_HOSTS', '127.0.0.1');

if ('other' === $usersync_variant) {
    define('USERSYNC_SITE_ID', 'other.test');
    define('USERSYNC_PEERS', [[
        'id' => 'blog.test',
        'url' => 'http://blog.test',
        'deliver_to' => "$usersync_stub/other-blog",
        'secrets' => [$usersync_secrets['other-blog']],
        'send' => ['actions' => ['create', 'update', 'delete'], 'roles' => ['subscriber'], 'meta' => []],
        'accept' => ['actions' => ['create', 'update', 'delete'], 'roles' => ['subscriber'], 'meta' => []],
    ]]);
} elseif ('unconfigured' !== $usersync_variant) {
    define('USERSYNC_SITE_ID', 'shop.test');
    define('USERSYNC_PEERS', [
        [
            'id' => 'blog.test',
            'url' => 'http://blog.test',
            'deliver_to' => "$usersync_stub/blog",
            'secrets' => [$usersync_secrets['shop-blog']],
            'send' => ['actions' => ['create', 'update', 'delete', 'password', 'meta', 'logout'],
                'roles' => ['subscriber', 'editor'], 'meta' => ['billing_*']],
            'accept' => ['actions' => ['create', 'update', 'delete', 'password', 'meta', 'logout'],
                'roles' => ['subscriber', 'editor'], 'meta' => ['billing_*']],
            'ip_allow' => ['127.0.0.0/8'],
        ],
        [
            'id' => 'news.test',
            'url' => 'http://news.test',
            'deliver_to' => "$usersync_stub/news",
            'secrets' => [$usersync_secrets['shop-news']],
            'send' => ['actions' => ['create', 'update'], 'roles' => ['subscriber'], 'meta' => []],
            'accept' => ['actions' => ['create'], 'roles' => ['editor'], 'meta' => []],
        ],
        [
            'id' => 'down.test',
            'url' => $usersync_links['down_url'],
            'secrets' => [$usersync_secrets['shop-down']],
            'send' => ['actions' => ['delete'], 'roles' => [], 'meta' => []],
        ],
    ]);
    define('USERSYNC_RETRY_BASE', 7);
    define('USERSYNC_CLOCK_SKEW', 30);
    if ('nolib' === $usersync_variant) {
        define('USERSYNC_LIBRARY', '/nonexistent/usersync-test/libusersync.so');
    }
}
