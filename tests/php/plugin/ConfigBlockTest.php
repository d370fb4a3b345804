<?php
// The wp-config.php block the settings page and `wp usersync secret --for` print for the other
// site of a link: real PHP that configures a real link (checked by running it in its own PHP
// and pinging through the library with the configuration it defines).
declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class ConfigBlockTest extends TestCase
{
    /** The constants the block defines, from a PHP process of its own. */
    private static function defines(string $block): array
    {
        $file = tempnam(sys_get_temp_dir(), 'usersync-block');
        file_put_contents($file, "<?php\n" . $block . "\necho json_encode([USERSYNC_SITE_ID, USERSYNC_PEERS]);\n");
        try {
            $out = [];
            exec(PHP_BINARY . ' ' . escapeshellarg($file) . ' 2>&1', $out, $status);
        } finally {
            unlink($file);
        }
        if ($status !== 0) {
            throw new RuntimeException('the block does not run: ' . implode("\n", $out));
        }
        return json_decode(implode("\n", $out), true, 64, JSON_THROW_ON_ERROR);
    }

    public function testTheBlockSwapsIdsKeepsTheSecretAndMirrorsThePolicies(): void
    {
        $ours = USERSYNC_PEERS[0];
        $block = Usersync_Health::config_for_peer('blog.test');
        $this->assertNotNull($block);
        [$site, $peers] = self::defines($block);
        $this->assertSame('blog.test', $site);
        $this->assertCount(1, $peers);
        $this->assertSame([
            'id' => 'shop.test',
            'url' => 'https://shop.test',
            'secrets' => $ours['secrets'],
            'send' => ['actions' => ['create', 'update'], 'roles' => ['subscriber', 'editor'], 'meta' => []],
            'accept' => $ours['send'],
        ], $peers[0], 'no allow_privileged in a send policy, no ip_allow or deliver_to of this side');
        $this->assertNull(Usersync_Health::config_for_peer('nobody.test'));
    }

    public function testTheOtherSiteConfiguredByTheBlockAnswersOurPingBothWays(): void
    {
        [$site, $peers] = self::defines(Usersync_Health::config_for_peer('blog.test'));
        $here = new Usersync\Context(Usersync_Settings::config());
        $there = new Usersync\Context(['site_id' => $site, 'url' => 'https://blog.test', 'peers' => $peers]);
        $ping = $here->ping('blog.test');
        $pong = $there->pong($there->openAction($ping['message'], '198.51.100.1'));
        $report = $here->checkPong($ping, $pong['message'], '203.0.113.7'); // our ip_allow for blog.test
        $this->assertSame('blog.test', $report['peer']);
        $this->assertSame([], $report['not_accepted'], 'the peer accepts everything this site sends it');
        $this->assertSame([], $report['not_sent'], 'and sends everything this site accepts');
    }

    public function testTheBlockIsQuotedSafely(): void
    {
        // A peer id cannot break out of its literal (ids come from wp-config.php, but the
        // exporter must not trust them).
        $export = new ReflectionMethod('Usersync_Health', 'export');
        $export->setAccessible(true);
        $literal = $export->invoke(null, ['id' => "x'); exit(3); ('", 'list' => ['a\\', 'b']]);
        $file = tempnam(sys_get_temp_dir(), 'usersync-literal');
        file_put_contents($file, "<?php echo json_encode($literal);");
        try {
            $this->assertSame(['id' => "x'); exit(3); ('", 'list' => ['a\\', 'b']], json_decode((string) shell_exec(PHP_BINARY . ' ' . escapeshellarg($file)), true));
        } finally {
            unlink($file);
        }
    }
}
