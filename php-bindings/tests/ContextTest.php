<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\ConfigException;
use Usersync\Context;
use Usersync\EnvelopeException;
use Usersync\Keyring;
use Usersync\MessageRefused;
use Usersync\Secret;

require_once __DIR__ . '/Vectors.php';

/** Every refusal path of the message layer, through the binding. */
final class ContextTest extends TestCase
{
    private const BCRYPT = '$wp$2y$10$8Ql1D5wHk9Xz7Hj5nO6wQeqQ3mM1kXb9Y7aV2aQ0n5Zq8rT3yU1xW';
    private const ALL = ['create', 'update', 'delete', 'password', 'meta', 'logout', 'login'];

    /** The account every message names (docs/protocol.md §9: `uid` and `login`). */
    private const UID = 'AAECAwQFBgcICQoLDA0ODw';

    private string $secret;
    private Context $a;
    private Context $b;

    protected function setUp(): void
    {
        $this->secret = Secret::generate();
        $this->a = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$this->secret],
             'send' => ['actions' => self::ALL, 'roles' => ['subscriber', 'administrator'], 'meta' => ['billing_*']]],
        ]]);
        $this->b = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [$this->secret],
             'accept' => ['actions' => ['create', 'update', 'password', 'meta', 'logout', 'login'], 'roles' => ['*'], 'meta' => ['billing_*']],
             'ip_allow' => ['127.0.0.0/8']],
        ]]);
    }

    private function toB(array $event): string
    {
        $out = $this->a->build($event, 'b.test');
        $this->assertCount(1, $out);
        return $out[0]['message'];
    }

    /** Seals claims on the a→b link as a compromised peer could, with the real clock. */
    private function forge(string $act, array $data, int $iatOffset = 0, int $life = 60, array $extra = []): string
    {
        $claims = ['v' => 1, 'typ' => 'action', 'iss' => 'a.test', 'aud' => 'b.test', 'iat' => time() + $iatOffset,
                   'exp' => time() + $iatOffset + $life, 'jti' => 'AAAAAAAAAAAAAAAAAAAAAA', 'eid' => 'ZXZlbnQtaWQtMDAwMDAwMQ', 'act' => $act, 'data' => $data] + $extra;
        return (new Keyring($this->secret))->seal('usersync/v1|action|a.test|b.test', json_encode($claims));
    }

    private function assertRefused(string $reason, callable $f): void
    {
        try {
            $f();
            $this->fail("not refused; expected $reason");
        } catch (MessageRefused | EnvelopeException $e) {
            $this->assertSame($reason, $e->reason);
        }
    }

    public function testCreateRoundTripWithPolicyAndReplayKey(): void
    {
        $msg = $this->toB(['eid' => Secret::uid(), 'act' => 'create', 'data' => ['uid' => self::UID, 'login' => 'alice', 'email' => 'alice@a.test',
            'roles' => ['subscriber', 'shop_manager'], 'meta' => ['billing_city' => ['Oslo'], 'wp_capabilities' => ['x']],
            'pass_hash' => self::BCRYPT]]);
        $o = $this->b->openAction($msg, '127.0.0.1');
        $this->assertSame('a.test', $o['iss']);
        $this->assertSame('create', $o['act']);
        $this->assertSame(self::UID, $o['data']['uid']);
        $this->assertSame(['subscriber'], $o['data']['roles']);
        $this->assertSame(['billing_city' => ['Oslo']], $o['data']['meta']);
        $this->assertSame(self::BCRYPT, $o['data']['pass_hash']);
        // A host-side replay store: the same (iss, jti) twice is a duplicate.
        $seen = [];
        $outcomes = [];
        foreach ([$msg, $msg] as $m) {
            $r = $this->b->openAction($m, '127.0.0.1');
            $key = $r['iss'] . '|' . $r['jti'];
            $outcomes[] = isset($seen[$key]) ? 'duplicate' : 'applied';
            $seen[$key] = true;
        }
        $this->assertSame(['applied', 'duplicate'], $outcomes);
    }

    public function testRefusals(): void
    {
        $good = $this->toB(['eid' => Secret::uid(), 'act' => 'logout', 'data' => ['uid' => self::UID, 'login' => 'bob']]);
        $tampered = $good;
        $tampered[40] = $tampered[40] === 'A' ? 'B' : 'A';
        $this->assertRefused('authentication_failed', fn() => $this->b->openAction($tampered, '127.0.0.1'));
        $this->assertRefused('ip_not_allowed', fn() => $this->b->openAction($good, '192.0.2.1'));
        $this->assertRefused('ip_not_allowed', fn() => $this->b->openAction($good, null));
        $this->assertRefused('too_large', fn() => $this->b->openAction(str_repeat('A', (1 << 20) + 1), '127.0.0.1'));
        $this->assertRefused('expired', fn() => $this->b->openAction($this->forge('logout', ['uid' => self::UID, 'login' => 'b'], -1000), '127.0.0.1'));
        $this->assertRefused('not_yet_valid', fn() => $this->b->openAction($this->forge('logout', ['uid' => self::UID, 'login' => 'b'], 3600), '127.0.0.1'));
        $this->assertRefused('lifetime_too_long', fn() => $this->b->openAction($this->forge('logout', ['uid' => self::UID, 'login' => 'b'], 0, 301), '127.0.0.1'));
        $this->assertRefused('action_not_accepted', fn() => $this->b->openAction($this->forge('delete', ['uid' => self::UID, 'login' => 'b']), '127.0.0.1'));
        $this->assertRefused('privileged_role', fn() => $this->b->openAction(
            $this->forge('update', ['uid' => self::UID, 'login' => 'b', 'email' => 'b@a.test', 'roles' => ['administrator']]),
            '127.0.0.1'
        ));
        foreach (['wp_capabilities', 'wp_user_level', 'session_tokens', 'usersync_sid'] as $key) {
            $this->assertRefused('protected_meta', fn() => $this->b->openAction(
                $this->forge('meta', ['uid' => self::UID, 'login' => 'b', 'set' => [$key => ['1']]]),
                '127.0.0.1'
            ));
        }
        $this->assertRefused('pass_hash_format', fn() => $this->b->openAction(
            $this->forge('password', ['uid' => self::UID, 'login' => 'b', 'pass_hash' => 'hunter2']),
            '127.0.0.1'
        ));
        $this->assertRefused('unknown_field', fn() => $this->b->openAction(
            $this->forge('update', ['uid' => self::UID, 'login' => 'b', 'email' => 'b@a.test', 'is_admin' => true]),
            '127.0.0.1'
        ));
        $this->assertRefused('claims_invalid', fn() => $this->b->openAction(
            $this->forge('logout', ['uid' => self::UID, 'login' => 'b'], 0, 60, ['admin' => true]),
            '127.0.0.1'
        ));
        $this->assertRefused('pass_hash_format', fn() => $this->a->build(['eid' => Secret::uid(), 'act' => 'password', 'data' => ['uid' => self::UID, 'login' => 'b', 'pass_hash' => 'plain']]));
    }

    public function testClockIndependentInvalidMessageVectors(): void
    {
        $v = Vectors::load('messages-invalid.json');
        $ctx = new Context($v['receiver_config']);
        $n = 0;
        foreach ($v['cases'] as $case) {
            if (!$case['before_time_check']) {
                continue;
            }
            $n++;
            $this->assertRefused($case['error'], fn() => $case['typ'] === 'ticket'
                ? $ctx->openTicket($case['envelope'])
                : $ctx->openAction($case['envelope'], $case['remote_ip']));
        }
        $this->assertGreaterThan(20, $n);
    }

    public function testTickets(): void
    {
        $bnd = Secret::bindingHash(str_repeat('v', 43));
        $t = $this->a->mintTicket(['peer' => 'b.test', 'uid' => self::UID, 'login' => 'lee', 'remember' => true, 'bnd' => $bnd, 'return' => 'https://a.test/x']);
        $o = $this->b->openTicket($t['message']);
        $data = $o['data'];
        ksort($data);
        $this->assertSame(['bnd' => $bnd, 'login' => 'lee', 'remember' => true, 'return' => 'https://a.test/x', 'uid' => self::UID], $data);
        foreach (['//evil.test', 'https://a.test.evil.test/', 'javascript:alert(1)', 'http://a.test/'] as $bad) {
            $this->assertRefused('return_url_refused', fn() => $this->a->mintTicket(['peer' => 'b.test', 'uid' => self::UID, 'login' => 'lee', 'remember' => false, 'bnd' => $bnd, 'return' => $bad]));
        }
    }

    public function testConfigurationErrorsNameTheField(): void
    {
        $this->expectException(ConfigException::class);
        $this->expectExceptionMessage('invalid usersync configuration: peers[0].secrets[0]: a link secret must start with "usk1_"');
        new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => ['nope']]]]);
    }

    public function testPingAndPong(): void
    {
        $ping = $this->a->ping('b.test');
        $opened = $this->b->openAction($ping['message'], '127.0.0.1');
        $this->assertSame('ping', $opened['act']);
        $pong = $this->b->pong($opened);
        $answer = $this->a->openAction($pong['message'], null);
        $this->assertSame('pong', $answer['act']);
        $this->assertSame($opened['jti'], $answer['data']['ping']);
        $this->assertEqualsWithDelta(time(), $answer['data']['time'], 5);
        $this->assertRefused('data_invalid', fn() => $this->b->pong($answer));
    }

    public function testCheckPongReportsTheLink(): void
    {
        $ping = $this->a->ping('b.test');
        $opened = $this->b->openAction($ping['message'], '127.0.0.1');
        $this->assertSame($opened['jti'], $ping['jti'], 'ping() names the jti the peer opens');
        $pong = $this->b->pong($opened)['message'];
        $report = $this->a->checkPong($ping, $pong, '127.0.0.1');
        $this->assertSame('b.test', $report['peer']);
        $this->assertEqualsWithDelta(time(), $report['time'], 5);
        $this->assertEqualsWithDelta(time(), $report['local_time'], 5);
        // a sends everything; b accepts all but delete. a accepts nothing from b: nothing missing.
        $this->assertSame(['delete'], $report['not_accepted']);
        $this->assertSame([], $report['not_sent']);
        $this->assertRefused('data_invalid', fn() => $this->a->checkPong($this->a->ping('b.test'), $pong, null));
        // The pinging site's ip_allow for the peer applies to the answering server's address.
        $strict = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$this->secret], 'ip_allow' => ['10.0.0.0/8']]]]);
        $this->assertRefused('ip_not_allowed', fn() => $strict->checkPong($ping, $pong, '127.0.0.1'));
    }

    public function testClientAddressBehindTrustedProxies(): void
    {
        $ctx = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'trusted_proxies' => ['10.0.0.0/8'], 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [Secret::generate()]]]]);
        $this->assertSame('192.0.2.7', $ctx->clientIp('10.0.0.5', '203.0.113.9, 192.0.2.7'));
        $this->assertSame('198.51.100.1', $ctx->clientIp('198.51.100.1', '192.0.2.7'), 'an untrusted remote is the client');
        $this->assertSame('10.0.0.5', $ctx->clientIp('10.0.0.5', null));
        try {
            $ctx->clientIp('garbage', null);
            $this->fail('an address that is not one was accepted');
        } catch (\Usersync\Exception $e) {
            $this->assertSame('invalid_argument', $e->reason);
        }
    }
}
