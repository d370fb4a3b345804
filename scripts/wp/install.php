<?php
// Installs WordPress in a site folder from the command line (there is no wp-cli here):
//   php install.php SITE_DIR URL ADMIN_PASSWORD
[$_, $dir, $url, $password] = $argv;
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $parts['host'];
$_SERVER['HTTPS'] = ($parts['scheme'] ?? 'http') === 'https' ? 'on' : '';
define('WP_INSTALLING', true);
function wp_mail() { return true; } // no MTA here; wp_install() mails the admin
require $dir . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('usersync ' . $parts['host'], 'admin', 'admin@' . $parts['host'], false, '', wp_slash($password));
if (empty($result['user_id'])) {
    fwrite(STDERR, "WordPress install failed for $url\n");
    exit(1);
}
update_option('permalink_structure', '/%postname%/');
echo "installed WordPress " . get_bloginfo('version') . " at $url\n";
