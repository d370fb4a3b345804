<?php
// The WP-CLI command classes' argument and output handling, over stand-ins of the plain
// functions (whose real behaviour tests/e2e/health.py checks on real sites).
declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class FakeHealth
{
    public static array $status = [];
    public static ?array $result = null;
    public static array $tested = [];

    public static function status(): array
    {
        return self::$status;
    }
    public static function test(string $peer): array
    {
        self::$tested[] = $peer;
        return self::$result;
    }
    public static function config_for_peer(string $peer): ?string
    {
        return 'blog.test' === $peer ? "define( 'USERSYNC_SITE_ID', 'blog.test' );\n" : null;
    }
}

final class FakeOutbox
{
    public static int $runs = 0;

    public static function deliver(): void
    {
        self::$runs++;
    }
}

final class FakeLog
{
    public static array $limits = [];

    public static function recent(int $limit): array
    {
        self::$limits[] = $limit;
        return [(object) ['time' => 0, 'direction' => 'in', 'peer' => 'blog.test', 'act' => 'ping', 'login' => '', 'result' => 'answered', 'reason' => ''],
                (object) ['time' => 86400, 'direction' => 'out', 'peer' => 'blog.test', 'act' => 'update', 'login' => 'ann', 'result' => 'retry', 'reason' => 'connection refused']];
    }
}

final class FakeSettings
{
    public static ?string $problem = null;

    public static function problem(): ?string
    {
        return self::$problem;
    }
}

final class CliTest extends TestCase
{
    private Usersync_CLI $cli;

    protected function setUp(): void
    {
        WP_CLI::$said = [];
        FakeHealth::$status = [['peer' => 'blog.test', 'url' => 'https://blog.test', 'waiting' => 0, 'last_error' => '',
                                'last_check' => '', 'result' => '', 'last_success' => '']];
        FakeHealth::$result = null;
        FakeHealth::$tested = [];
        FakeOutbox::$runs = 0;
        FakeLog::$limits = [];
        FakeSettings::$problem = null;
        $this->cli = new Usersync_CLI('FakeHealth', 'FakeOutbox', 'FakeLog', 'FakeSettings');
    }

    /** Runs a command; returns its exit status as WP-CLI would (1 after WP_CLI::error()). */
    private function cmd(string $command, array $args = [], array $assoc = []): int
    {
        try {
            $this->cli->$command($args, $assoc);
            return 0;
        } catch (WP_CLI_Exit $e) {
            return $e->getCode();
        }
    }

    private function kinds(): array
    {
        return array_column(WP_CLI::$said, 0);
    }

    private static function result(bool $ok, string $code, array $notes = []): array
    {
        return ['peer' => 'blog.test', 'ok' => $ok, 'code' => $code, 'message' => "message for $code", 'notes' => $notes,
                'local_time' => 1700000000, 'peer_time' => $ok ? 1700000002 : null, 'version' => $ok ? '0.1.0' : null,
                'ms' => 12, 'time' => 1700000000, 'last_success' => 0];
    }

    public function testTheCommandIsRegisteredUnderWpCli(): void
    {
        $this->assertSame('Usersync_CLI', WP_CLI::$commands['usersync'] ?? null);
        foreach (['status', 'test', 'deliver', 'secret', 'log'] as $command) {
            $this->assertTrue(method_exists('Usersync_CLI', $command), "wp usersync $command");
        }
    }

    public function testStatusPrintsEveryPeerAsTableOrJson(): void
    {
        $this->assertSame(0, $this->cmd('status'));
        [$kind, $format, $rows, $fields] = WP_CLI::$said[0];
        $this->assertSame(['items', 'table', FakeHealth::$status], [$kind, $format, $rows]);
        $this->assertSame(['peer', 'url', 'waiting', 'last_error', 'last_check', 'result', 'last_success'], $fields);
        WP_CLI::$said = [];
        $this->assertSame(0, $this->cmd('status', [], ['format' => 'json']));
        $this->assertSame('json', WP_CLI::$said[0][1]);
    }

    public function testAnUnknownFormatIsRefusedBeforeAnythingRuns(): void
    {
        $this->assertSame(1, $this->cmd('status', [], ['format' => 'yaml']));
        $this->assertSame([['error', 'Unknown --format=yaml (use table or json).']], WP_CLI::$said);
        $this->assertSame(1, $this->cmd('test', ['blog.test'], ['format' => 'csv']));
        $this->assertSame([], FakeHealth::$tested, 'no ping is sent for a bad format');
    }

    public function testStatusStillListsPeersButFailsWhenUsersyncCannotWork(): void
    {
        FakeSettings::$problem = 'FFI is disabled (ffi.enable=0).';
        $this->assertSame(1, $this->cmd('status'));
        $this->assertSame(['items', 'error'], $this->kinds());
        $this->assertSame('usersync is not syncing users: FFI is disabled (ffi.enable=0).', WP_CLI::$said[1][1]);
    }

    public function testTestNeedsExactlyOnePeer(): void
    {
        $this->assertSame(1, $this->cmd('test'));
        $this->assertSame(1, $this->cmd('test', ['a.test', 'b.test']));
        $this->assertSame([], FakeHealth::$tested);
    }

    public function testAHealthyLinkSucceeds(): void
    {
        FakeHealth::$result = self::result(true, 'healthy');
        $this->assertSame(0, $this->cmd('test', ['blog.test']));
        $this->assertSame(['blog.test'], FakeHealth::$tested);
        $this->assertSame(['items', 'success'], $this->kinds());
        $row = WP_CLI::$said[0][2][0];
        $this->assertSame(['peer' => 'blog.test', 'result' => 'healthy', 'local_time' => '2023-11-14 22:13:20',
                           'peer_time' => '2023-11-14 22:13:22', 'ms' => 12, 'last_success' => ''], $row);
        $this->assertSame('message for healthy', WP_CLI::$said[1][1]);
    }

    public function testOneWayPoliciesAreWarningsOfAWorkingLink(): void
    {
        FakeHealth::$result = self::result(true, 'one_way', ['One-way: blog.test does not accept password']);
        $this->assertSame(0, $this->cmd('test', ['blog.test']));
        $this->assertSame(['items', 'warning', 'success'], $this->kinds());
        $this->assertSame('One-way: blog.test does not accept password', WP_CLI::$said[1][1]);
    }

    public function testABrokenLinkExitsWithStatusOneAndSaysWhy(): void
    {
        FakeHealth::$result = self::result(false, 'clock_skew');
        $this->assertSame(1, $this->cmd('test', ['blog.test']));
        $this->assertSame(['items', 'error'], $this->kinds());
        $this->assertSame('message for clock_skew', WP_CLI::$said[1][1]);
        $this->assertSame('', WP_CLI::$said[0][2][0]['peer_time'], 'no peer clock when none was learnt');
    }

    public function testTestAsJsonPrintsTheWholeResult(): void
    {
        FakeHealth::$result = self::result(false, 'secret_mismatch');
        $this->assertSame(1, $this->cmd('test', ['blog.test'], ['format' => 'json']));
        $this->assertSame('line', WP_CLI::$said[0][0]);
        $this->assertSame(FakeHealth::$result, json_decode(WP_CLI::$said[0][1], true));
    }

    public function testDeliverRunsOnceAndReportsWhatWaits(): void
    {
        $this->assertSame(0, $this->cmd('deliver'));
        $this->assertSame(1, FakeOutbox::$runs);
        $this->assertSame([['success', 'Delivered; nothing waits.']], WP_CLI::$said);
        WP_CLI::$said = [];
        FakeHealth::$status[0]['waiting'] = 3;
        FakeHealth::$status[0]['last_error'] = 'connection refused';
        $this->assertSame(0, $this->cmd('deliver'));
        $this->assertSame([['warning', 'blog.test: 3 waiting (connection refused)'],
                           ['success', 'Delivered what was due; 3 waiting for a retry.']], WP_CLI::$said);
        WP_CLI::$said = [];
        FakeSettings::$problem = 'USERSYNC_SITE_ID is not defined in wp-config.php.';
        $this->assertSame(1, $this->cmd('deliver'));
    }

    public function testSecretPrintsANewSecretOrThePeersBlock(): void
    {
        $this->assertSame(0, $this->cmd('secret'));
        [$kind, $secret] = WP_CLI::$said[0];
        $this->assertSame('line', $kind);
        $this->assertMatchesRegularExpression('/^usk1_[A-Za-z0-9_-]{43}$/', $secret);
        Usersync\Secret::check($secret); // the library takes it
        $this->cmd('secret');
        $this->assertNotSame($secret, WP_CLI::$said[1][1], 'a new secret each time');
        WP_CLI::$said = [];
        $this->assertSame(0, $this->cmd('secret', [], ['for' => 'blog.test']));
        $this->assertSame([['line', "define( 'USERSYNC_SITE_ID', 'blog.test' );"]], WP_CLI::$said);
        $this->assertSame(1, $this->cmd('secret', [], ['for' => 'nobody.test']));
    }

    public function testLogMapsEntriesAndChecksTheLimit(): void
    {
        $this->assertSame(0, $this->cmd('log'));
        $this->assertSame([50], FakeLog::$limits);
        [, $format, $rows, $fields] = WP_CLI::$said[0];
        $this->assertSame('table', $format);
        $this->assertSame(['time', 'dir', 'peer', 'action', 'user', 'result', 'detail'], $fields);
        $this->assertSame(['1970-01-01 00:00:00', 'received', 'blog.test', 'ping', '', 'answered', ''], array_values($rows[0]));
        $this->assertSame(['1970-01-02 00:00:00', 'sent', 'blog.test', 'update', 'ann', 'retry', 'connection refused'], array_values($rows[1]));
        $this->assertSame(0, $this->cmd('log', [], ['limit' => '7', 'format' => 'json']));
        $this->assertSame([50, 7], FakeLog::$limits);
        foreach (['0', '-1', 'ten', '10001', '2.5'] as $bad) {
            $this->assertSame(1, $this->cmd('log', [], ['limit' => $bad]), "--limit=$bad");
        }
        $this->assertSame([50, 7], FakeLog::$limits, 'a bad limit reads nothing');
    }
}
