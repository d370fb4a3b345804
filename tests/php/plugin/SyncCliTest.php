<?php
// `wp usersync sync` (Usersync_Sync_CLI): arguments, output and exit codes, over a recording
// stand-in of Usersync_Sync (whose real behaviour tests/e2e/initial_sync.py checks on real sites).
declare(strict_types=1);

use PHPUnit\Framework\TestCase;

/** Usersync_Sync's shape, recording calls; what it returns is set per test. */
final class FakeSync
{
    public static array $calls = [];
    public static array $summary = [];
    public static array $runs = [];
    public static ?Throwable $fail = null;

    public static function report(string $peer, int $batch): array
    {
        self::$calls[] = ['report', $peer, $batch];
        if (self::$fail) {
            throw self::$fail;
        }
        return self::$summary;
    }
    public static function rows(string $peer): array
    {
        self::$calls[] = ['rows', $peer];
        return [['user_id' => 2, 'login' => 'ann', 'email' => 'ann@x.test', 'verdict' => 'create', 'reason' => '', 'state' => '', 'result' => ''],
                ['user_id' => 3, 'login' => 'bob', 'email' => 'bob@x.test', 'verdict' => 'collision', 'reason' => 'login_taken', 'state' => '-', 'result' => '']];
    }
    public static function summary(string $peer): array
    {
        self::$calls[] = ['summary', $peer];
        return self::$summary;
    }
    public static function run(string $peer, int $batch, callable $progress): array
    {
        self::$calls[] = ['run', $peer, $batch];
        $last = self::$summary;
        foreach (self::$runs as $step) {
            $progress($step);
            $last = $step;
        }
        return $last;
    }
}

final class SyncCliTest extends TestCase
{
    private const REPORT = ['reported_at' => 1800000000, 'counts' => ['create' => 1, 'link' => 0, 'linked' => 0, 'collision' => 1, 'not_sent' => 0],
                            'total' => 1, 'done' => 0, 'refused' => 0, 'remaining' => 1];

    protected function setUp(): void
    {
        WP_CLI::$said = [];
        FakeSync::$calls = [];
        FakeSync::$summary = self::REPORT;
        FakeSync::$runs = [];
        FakeSync::$fail = null;
    }

    private function command(array $args, array $assoc): int
    {
        try {
            (new Usersync_Sync_CLI(FakeSync::class))($args, $assoc);
            return 0;
        } catch (WP_CLI_Exit $e) {
            return $e->getCode();
        }
    }

    /** The last thing of one kind the command told WP-CLI. */
    private function last(string $kind)
    {
        $said = array_values(array_filter(WP_CLI::$said, fn($s) => is_array($s) && $s[0] === $kind));
        return $said ? end($said) : null;
    }

    private function bars(): array
    {
        return array_values(array_filter(WP_CLI::$said, fn($s) => $s instanceof WP_CLI\Utils\Bar));
    }

    public function testTheCommandIsRegisteredUnderUsersync(): void
    {
        $this->assertSame('Usersync_Sync_CLI', WP_CLI::$commands['usersync sync'] ?? null);
    }

    public function testArgumentsAreCheckedBeforeAnythingRuns(): void
    {
        $bad = [[[], []], [['b.test'], ['format' => 'xml']], [['b.test'], ['batch' => '0']], [['b.test'], ['batch' => '1001']],
                [['b.test'], ['batch' => 'ten']], [['b.test'], ['batch' => '-5']]];
        foreach ($bad as [$args, $assoc]) {
            WP_CLI::$said = [];
            $this->assertSame(1, $this->command($args, $assoc), json_encode([$args, $assoc]));
            $this->assertNotNull($this->last('error'));
        }
        $this->assertSame([], FakeSync::$calls, 'nothing ran');
    }

    public function testDryRunPrintsTheReportAsATable(): void
    {
        $this->assertSame(0, $this->command(['b.test'], ['dry-run' => true, 'batch' => '250']));
        $this->assertSame([['report', 'b.test', 250], ['rows', 'b.test']], FakeSync::$calls);
        [, $format, $items, $fields] = $this->last('items');
        $this->assertSame(['table', ['login', 'email', 'verdict', 'reason']], [$format, $fields]);
        $this->assertSame(['login' => 'bob', 'email' => 'bob@x.test', 'verdict' => 'collision', 'reason' => 'login_taken'], $items[1]);
        $this->assertStringContainsString('1 to create, 0 to link, 0 linked already, 1 collisions left alone, 0 not sent', $this->last('success')[1]);
    }

    public function testDryRunAsJson(): void
    {
        $this->assertSame(0, $this->command(['b.test'], ['dry-run' => true, 'format' => 'json']));
        $this->assertSame([['report', 'b.test', 1000], ['rows', 'b.test']], FakeSync::$calls, 'batch defaults to 1000');
        $out = json_decode($this->last('line')[1], true);
        $this->assertSame(self::REPORT, $out['summary']);
        $this->assertCount(2, $out['accounts']);
        $this->assertNull($this->last('success'), 'json output is only the JSON');
    }

    public function testARunNeedsAReport(): void
    {
        FakeSync::$summary = ['reported_at' => 0] + self::REPORT;
        $this->assertSame(1, $this->command(['b.test'], []));
        $this->assertStringContainsString('--dry-run first', $this->last('error')[1]);
        $this->assertNotContains('run', array_column(FakeSync::$calls, 0));
    }

    public function testARunShowsAProgressBarAndSucceeds(): void
    {
        FakeSync::$summary = ['remaining' => 5, 'total' => 5] + self::REPORT;
        FakeSync::$runs = [['total' => 5, 'done' => 2, 'refused' => 0, 'remaining' => 3], ['total' => 5, 'done' => 5, 'refused' => 0, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], ['batch' => '2']));
        $this->assertSame(['run', 'b.test', 2], FakeSync::$calls[1]);
        [$bar] = $this->bars();
        $this->assertSame([5, 5, true], [$bar->count, $bar->ticks, $bar->finished]);
        $this->assertSame('5 accounts created or linked on b.test.', $this->last('success')[1]);
    }

    public function testRefusedAccountsWarnAndAnUnfinishedRunFails(): void
    {
        FakeSync::$runs = [['total' => 3, 'done' => 2, 'refused' => 1, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], []));
        $this->assertStringContainsString('1 refused', $this->last('warning')[1]);
        WP_CLI::$said = [];
        FakeSync::$runs = [['total' => 3, 'done' => 1, 'refused' => 0, 'remaining' => 2]];
        $this->assertSame(1, $this->command(['b.test'], []));
        $this->assertStringContainsString('run the command again to resume', $this->last('error')[1]);
    }

    public function testJsonRunPrintsTheResultWithoutABar(): void
    {
        FakeSync::$runs = [['total' => 1, 'done' => 1, 'refused' => 0, 'remaining' => 0]];
        $this->assertSame(0, $this->command(['b.test'], ['format' => 'json']));
        $this->assertSame([], $this->bars());
        $this->assertSame(['total' => 1, 'done' => 1, 'refused' => 0, 'remaining' => 0], json_decode($this->last('line')[1], true));
    }

    public function testAFailureIsAnErrorInPlainWords(): void
    {
        FakeSync::$fail = new RuntimeException('The peer did not answer the probe: ip_not_allowed');
        $this->assertSame(1, $this->command(['b.test'], ['dry-run' => true]));
        $this->assertSame('The peer did not answer the probe: ip_not_allowed', $this->last('error')[1]);
    }
}
