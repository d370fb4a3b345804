<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\Context;
use Usersync\EnvelopeException;
use Usersync\Keyring;
use Usersync\MessageRefused;
use Usersync\Secret;

/**
 * 100 000 calls of each kind with flat memory: PHP's own (memory_get_usage) and the process's
 * (resident set, which includes the library's allocations and any FFI buffer not freed).
 */
final class LeakTest extends TestCase
{
    private const CALLS = 100_000;

    private static function rssKiB(): int
    {
        preg_match('/VmRSS:\s+(\d+) kB/', (string) file_get_contents('/proc/self/status'), $m);
        return (int) $m[1];
    }

    private function assertFlat(string $what, callable $call): void
    {
        for ($i = 0; $i < 2_000; $i++) {
            $call($i); // warm up allocators and caches
        }
        gc_collect_cycles();
        [$php, $rss] = [memory_get_usage(), self::rssKiB()];
        for ($i = 0; $i < self::CALLS; $i++) {
            $call($i);
        }
        gc_collect_cycles();
        $this->assertLessThan(64 * 1024, memory_get_usage() - $php, "$what: PHP memory grew");
        $this->assertLessThan(2048, self::rssKiB() - $rss, "$what: resident memory grew");
    }

    public function testSealOpenAndRefusalsDoNotLeak(): void
    {
        $ring = new Keyring(Secret::generate());
        $text = $ring->seal('aad', str_repeat('x', 1024));
        $this->assertFlat('seal+open', function () use ($ring, $text) {
            $ring->open('aad', $ring->seal('aad', 'a short plaintext'));
        });
        $this->assertFlat('refused open', function () use ($ring, $text) {
            try {
                $ring->open('other', $text);
            } catch (EnvelopeException) {
            }
        });
    }

    public function testLibraryAllocatedResultsAreFreed(): void
    {
        $secret = Secret::generate();
        $a = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$secret], 'send' => ['actions' => ['update']]]]]);
        $b = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [$secret], 'accept' => ['actions' => ['update']]]]]);
        $event = ['eid' => Secret::uid(), 'act' => 'update', 'data' => ['uid' => Secret::uid(), 'login' => 'alice', 'email' => 'alice@a.test']];
        $this->assertFlat('build+open', function () use ($a, $b, $event) {
            $b->openAction($a->build($event)[0]['message'], '127.0.0.1');
        });
    }

    public function testTargetAndReturnChecksDoNotLeak(): void
    {
        $secret = Secret::generate();
        $a = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$secret], 'send' => ['actions' => ['update', 'login'], 'roles' => ['subscriber']]]]]);
        $b = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [$secret], 'accept' => ['actions' => ['update', 'login'], 'roles' => ['subscriber']]]]]);
        $uid = Secret::uid();
        $event = ['eid' => Secret::uid(), 'act' => 'update', 'data' => ['uid' => $uid, 'login' => 'alice', 'email' => 'alice@a.test', 'roles' => ['subscriber']]];
        $update = $b->openAction($a->build($event)[0]['message'], '127.0.0.1');
        $value = Secret::nonce(43);
        $ticket = $b->openTicket($a->mintTicket(['peer' => 'b.test', 'uid' => $uid, 'login' => 'alice', 'remember' => false, 'bnd' => Secret::bindingHash($value)])['message']);
        $subscriber = ['account' => ['uid' => $uid, 'roles' => ['subscriber'], 'super_admin' => false]];
        $admin = ['account' => ['uid' => $uid, 'roles' => ['subscriber', 'administrator'], 'super_admin' => false]];
        $this->assertFlat('checkTarget verdict', function () use ($b, $update, $ticket, $subscriber, $value) {
            $b->checkTarget($update, $subscriber);
            $b->checkTarget($ticket, $subscriber + ['binding' => $value]);
        });
        $this->assertFlat('checkTarget refused', function () use ($b, $update, $ticket, $subscriber, $admin) {
            foreach ([[$update, $admin], [$ticket, $subscriber + ['binding' => null]]] as [$opened, $facts]) {
                try {
                    $b->checkTarget($opened, $facts);
                } catch (MessageRefused) {
                }
            }
        });
        $this->assertFlat('checkReturn', function () use ($b) {
            $b->checkReturn('HTTPS://A.test:443/account/../x');
            try {
                $b->checkReturn('https://b.test.evil.test/');
            } catch (MessageRefused) {
            }
        });
    }

    public function testHandlesAreFreed(): void
    {
        $secret = Secret::generate();
        $this->assertFlat('keyring new/free', function () use ($secret) {
            new Keyring($secret);
        });
    }
}
