<?php

declare(strict_types=1);

namespace Usersync\Tests\Plugin;

use PHPUnit\Framework\TestCase;

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once __DIR__ . '/wp-cli-stand-in.php';
require_once dirname(__DIR__, 2) . '/wordpress-plugin/usersync/includes/class-usersync-sync-cli.php';
require_once __DIR__ . '/FakeSync.php';

/**
 * `wp usersync sync` (Usersync_Sync_CLI): arguments, output and exit codes, against the WP-CLI
 * stand-in and a recording Usersync_Sync. The functions behind it run on real sites in
 * tests/e2e/initial_sync.py.
 */
final class SyncCliTest extends TestCase
{
    private const REPORT = ['reported_at' => 1800000000, 'counts' => ['create' => 1, 'link' => 0, 'linked' => 0, 'collision' => 1, 'not_sent' => 0],
                            'total' => 1, 'done' => 0, 'refused' => 0, 'remaining' => 1];

    protected function setUp(): void
    {
        \WP_CLI::reset();
        FakeSync::$calls = [];
        FakeSync::$summary = self::REPORT;
        FakeSync::$runs = [];
        FakeSync::$fail = null;
    }

    private function command(array $args, array $assoc): ?int
    {
        try {
            (new \Usersync_Sync_CLI(FakeSync::class))($args, $assoc);
            return 0;
        } catch (\WP_CLI_Exit $e) {
            return $e->getCode();
        }
    }

    private function last(string $kind): string
    {
        $lines = array_values(array_filter(\WP_CLI::$out, fn($o) => $o[0] === $kind));
        return $lines ? end($lines)[1] : '';
    }

    public function testArgumentsAreCheckedBeforeAnythingRuns(): void
    {
        $bad = [[[], []], [['b.test'], ['format' => 'xml']], [['b.test'], ['batch' => '0']], [['b.test'], ['batch' => '1001']],
                [['b.test'], ['batch' => 'ten']], [['b.test'], ['batch' => '-5']]];
        foreach ($bad as [$args, $assoc]) {
            \WP_CLI::reset();
            $this->assertSame(1, $this->command($args, $assoc), json_encode([$args, $assoc]));
            $this->assertNotSame('', $this->last('error'));
        }
        $this->assertSame([], FakeSync::$calls, 'nothing ran');
    }

    public function testDryRunPrintsTheReportAsATable(): void
    {
        $this->assertSame(0, $this->command(['b.test'], ['dry-run' => true, 'batch' => '250']));
        $this->assertSame([['report', 'b.test', 250], ['rows', 'b.test']], FakeSync::$calls);
        $table = json_decode($this->last('table'), true);
        $this->assertSame(['login', 'email', 'verdict', 'reason'], $table['fields']);
        $this->assertSame(['login' => 'bob', 'email' => 'bob@x.test', 'verdict' => 'collision', 'reason' => 'login_taken'], $table['items'][1]);
        $this->assertStringContainsString('1 to create, 0 to link, 0 linked already, 1 collisions left alone, 0 not sent', $this->last('success'));
    }

    public function testDryRunAsJson(): void
    {
        $this->assertSame(0, $this->command(['b.test'], ['dry-run' => true, 'format' => 'json']));
        $this->assertSame([['report', 'b.test', 1000], ['rows', 'b.test']], FakeSync::$calls, 'batch defaults to 1000');
        $out = json_decode($this->last('line'), true);
        $this->assertSame(self::REPORT, $out['summary']);
        $this->assertCount(2, $out['accounts']);
        $this->assertSame('', $this->last('success'), 'json output is only the JSON');
    }

    public function testARunNeedsAReport(): void
    {
        FakeSync::$summary = ['reported_at' => 0] + self::REPORT;
        $this->assertSame(1, $this->command(['b.test'], []));
        $this->assertStringContainsString('--dry-run first', $this->last('error'));
        $this->assertNotContains('run', array_column(FakeSync::$calls, 0));
    }

    public function testARunShowsAProgressBarAndSucceeds(): void
    {
        FakeSync::$summary = ['remaining' => 5, 'total' => 5] + self::REPORT;
        FakeSync::$runs = [['total' => 5, 'done' => 2, 'refused' => 0, 'remaining' => 3], ['total' => 5, 'done' => 5, 'refused' => 0, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], ['batch' => '2']));
        $this->assertSame(['run', 'b.test', 2], FakeSync::$calls[1]);
        $bar = \WP_CLI\Utils\Bars::$bars[0];
        $this->assertSame([5, 5, true], [$bar->count, $bar->ticks, $bar->finished]);
        $this->assertSame('5 accounts created or linked on b.test.', $this->last('success'));
    }

    public function testRefusedAccountsWarnAndAnUnfinishedRunFails(): void
    {
        FakeSync::$runs = [['total' => 3, 'done' => 2, 'refused' => 1, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], []));
        $this->assertStringContainsString('1 refused', $this->last('warning'));
        \WP_CLI::reset();
        FakeSync::$runs = [['total' => 3, 'done' => 1, 'refused' => 0, 'remaining' => 2]];
        $this->assertSame(1, $this->command(['b.test'], []));
        $this->assertStringContainsString('run the command again to resume', $this->last('error'));
    }

    public function testJsonRunPrintsTheResultWithoutABar(): void
    {
        FakeSync::$runs = [['total' => 1, 'done' => 1, 'refused' => 0, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], ['format' => 'json']));
        $this->assertSame([], \WP_CLI\Utils\Bars::$bars);
        $this->assertSame(['total' => 1, 'done' => 1, 'refused' => 0, 'remaining' => 0], json_decode($this->last('line'), true));
    }

    public function testAFailureIsAnErrorInPlainWords(): void
    {
        FakeSync::$fail = new \RuntimeException('The peer did not answer the probe: ip_not_allowed');
        $this->assertSame(1, $this->command(['b.test'], ['dry-run' => true]));
        $this->assertSame('The peer did not answer the probe: ip_not_allowed', $this->last('error'));
    }
}
