<?php

declare(strict_types=1);

namespace Usersync\Tests\Plugin;

/** Usersync_Sync's shape, recording calls; what it returns is set per test. */
final class FakeSync
{
    public static array $calls = [];
    public static array $summary = [];
    public static array $runs = [];
    public static ?\Throwable $fail = null;

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
