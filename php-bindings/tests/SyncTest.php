<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\Context;
use Usersync\Exception;
use Usersync\Secret;

require_once __DIR__ . '/Vectors.php';

/**
 * The initial sync (docs/protocol.md §18) through the binding: every case of
 * tests/vectors/sync.json, then a probe and a batch between two sites.
 */
final class SyncTest extends TestCase
{
    public function testEverySyncVectorIsAnsweredExactly(): void
    {
        $v = Vectors::load('sync.json');
        $ctx = new Context($v['receiver_config']);
        $this->assertGreaterThanOrEqual(30, count($v['cases']));
        foreach ($v['cases'] as $case) {
            try {
                $got = $ctx->syncAnswer($case['opened'], $case['facts']);
                $this->assertArrayHasKey('expected', $case, $case['desc']);
                $this->assertSame($case['expected'], $got['results'], $case['desc']);
            } catch (Exception $e) {
                $this->assertSame($case['error'] ?? '(an outcome)', $e->reason, $case['desc']);
            }
        }
    }

    public function testAProbeAndABatchBetweenTwoSites(): void
    {
        $secret = Secret::generate();
        $a = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$secret],
             'send' => ['actions' => ['create', 'password'], 'roles' => ['subscriber'], 'meta' => ['billing_*']]],
        ]]);
        $b = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [$secret],
             'accept' => ['actions' => ['create', 'password'], 'roles' => ['subscriber'], 'meta' => ['billing_*']]],
        ]]);
        $hash = '$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW';
        $ann = ['login' => 'ann', 'email' => 'ann@x.test', 'roles' => ['subscriber'], 'meta' => (object) ['billing_city' => ['Oslo'], 'x' => ['y']], 'pass_hash' => $hash];
        $probe = $a->syncProbe('b.test', [$ann, ['login' => 'boss', 'email' => 'boss@x.test', 'roles' => ['administrator']]]);
        $this->assertSame([['do' => 'ask'], ['do' => 'not_sent', 'reason' => 'privileged_not_sent']], $probe['local']);
        $opened = $b->openAction($probe['message'], null);
        $this->assertEquals([['login' => 'ann', 'email' => 'ann@x.test', 'roles' => ['subscriber']]], $opened['data']['accounts'], 'a probe carries no profile or hash');
        $answer = $b->syncAnswer($opened, ['accounts' => [['linked' => null, 'by_login' => null, 'by_email' => null]]]);
        $this->assertSame([['do' => 'create']], $answer['results']);
        $back = $a->openAction($answer['message'], null);
        $this->assertSame(['act' => 'answer', 'to' => $probe['jti']], ['act' => $back['act'], 'to' => $back['data']['to']]);

        $uid = Secret::uid();
        $batch = $a->syncBatch('b.test', [['op' => 'create', 'uid' => $uid] + $ann]);
        $opened = $b->openAction($batch['message'], null);
        $this->assertSame($hash, $opened['data']['create'][0]['pass_hash'], 'the hash travels as it is');
        $this->assertSame(['billing_city' => ['Oslo']], $opened['data']['create'][0]['meta']);
        $answer = $b->syncAnswer($opened, ['accounts' => [['linked' => null, 'by_login' => null, 'by_email' => null]]]);
        $this->assertSame([['do' => 'create', 'uid' => $uid]], $answer['results']);
        try {
            $b->syncAnswer($opened, ['accounts' => []]);
            $this->fail('facts for no account must be refused');
        } catch (Exception $e) {
            $this->assertSame('data_invalid', $e->reason);
        }
    }
}
