<?php
// Usersync_Schema: the plugin's five tables, created and dropped per site (table prefix).
declare(strict_types=1);

final class SchemaTest extends UsersyncTestCase
{
    private static function tables(string $prefix): array
    {
        global $wpdb;
        return $wpdb->get_col($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->esc_like($prefix . 'usersync_') . '%'));
    }

    public function testActivationCreatedTheTables(): void
    {
        $expected = ['wp_usersync_links', 'wp_usersync_log', 'wp_usersync_outbox', 'wp_usersync_seen', 'wp_usersync_sync'];
        $this->assertEqualsCanonicalizing($expected, self::tables('wp_'));
        $this->assertEqualsCanonicalizing($expected, array_values(Usersync_Schema::tables()));
    }

    public function testTheDeliveryDueTimeIsAutoloaded(): void
    {
        // Every request's end asks whether a delivery is due: from the options loaded at start.
        global $wpdb;
        delete_option('usersync_retry_at');
        Usersync_Schema::install();
        $this->assertSame('0', (string) get_option('usersync_retry_at'));
        $autoload = $wpdb->get_var($wpdb->prepare("SELECT autoload FROM $wpdb->options WHERE option_name = %s", 'usersync_retry_at'));
        $this->assertContains($autoload, ['yes', 'on'], 'autoloaded (WordPress 6.6+ writes "on")');
    }

    public function testUninstallDropsOneSitesTablesAndInstallMakesThemAgain(): void
    {
        $shop = self::tables('wp_');
        $cycle = self::site('other', 'schema');
        $this->assertSame([], $cycle['uninstalled']['tables']);
        $this->assertFalse($cycle['uninstalled']['option']);
        $this->assertFalse($cycle['uninstalled']['cursor'], "the initial sync's cursors go too");
        $this->assertFalse($cycle['uninstalled']['columns'], "the users table's kept columns go too");
        $this->assertEqualsCanonicalizing(['wp2_usersync_links', 'wp2_usersync_log', 'wp2_usersync_outbox', 'wp2_usersync_seen', 'wp2_usersync_sync'],
            $cycle['installed']['tables']);
        $this->assertNotFalse($cycle['installed']['option']);
        // docs/protocol.md §9: a uid is base64url, where "a" and "A" differ.
        $this->assertSame('ascii_bin', $cycle['installed']['links_collations']['uid']);
        $this->assertSame($shop, self::tables('wp_'), 'the other site on the server keeps its tables');
    }

    public function testTablesMissingSinceAnUpgradeAreMadeOnFirstUse(): void
    {
        global $wpdb;
        $option = Usersync_Schema::OPTION;
        $before = get_option($option);
        $wpdb->query('DROP TABLE ' . Usersync_Schema::tables()['log']);
        delete_option($option);
        try {
            Usersync_Schema::maybe_install();
            $this->assertContains($wpdb->prefix . 'usersync_log', self::tables('wp_'));
            $this->assertSame($before, get_option($option));
        } finally {
            Usersync_Schema::install();
        }
    }
}
