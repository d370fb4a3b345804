<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\Context;
use Usersync\Exception;
use Usersync\MessageRefused;
use Usersync\Secret;

require_once __DIR__ . '/Vectors.php';

/**
 * The target check (docs/protocol.md §15) and the return-URL check (§12) through the binding:
 * every case of tests/vectors/targets.json, then real messages built on a and opened on b.
 */
final class TargetCheckTest extends TestCase
{
    private const ALL = ['create', 'update', 'delete', 'password', 'meta', 'logout', 'login'];

    private string $secret;
    private Context $a;
    private Context $b;

    protected function setUp(): void
    {
        // As in ContextTest, but b accepts every action and grants only subscriber and editor,
        // so that an ordinary role (shop_manager) is one it may not grant.
        $this->secret = Secret::generate();
        $this->a = new Context(['site_id' => 'a.test', 'url' => 'https://a.test', 'peers' => [
            ['id' => 'b.test', 'url' => 'https://b.test', 'secrets' => [$this->secret],
             'send' => ['actions' => self::ALL, 'roles' => ['subscriber', 'editor', 'administrator'], 'meta' => ['billing_*']]],
        ]]);
        $this->b = new Context(['site_id' => 'b.test', 'url' => 'https://b.test', 'peers' => [
            ['id' => 'a.test', 'url' => 'https://a.test', 'secrets' => [$this->secret],
             'accept' => ['actions' => self::ALL, 'roles' => ['subscriber', 'editor'], 'meta' => ['billing_*']],
             'ip_allow' => ['127.0.0.0/8']],
        ]]);
    }

    /** Builds $event on a for b and opens it on b, as b's endpoint would. */
    private function openOnB(array $event): array
    {
        $out = $this->a->build($event, 'b.test');
        $this->assertCount(1, $out);
        return $this->b->openAction($out[0]['message'], '127.0.0.1');
    }

    /** The facts for a local account linked to $uid. */
    private static function account(string $uid, array $roles, bool $superAdmin = false, array $extra = []): array
    {
        return ['account' => ['uid' => $uid, 'roles' => $roles, 'super_admin' => $superAdmin]] + $extra;
    }

    private function assertRefused(string $reason, callable $f, string $desc = ''): void
    {
        try {
            $f();
            $this->fail("not refused; expected $reason" . ($desc !== '' ? " ($desc)" : ''));
        } catch (MessageRefused $e) {
            $this->assertSame($reason, $e->reason, $desc);
        }
    }

    public function testEveryTargetVector(): void
    {
        $v = Vectors::load('targets.json');
        $ctx = new Context($v['receiver_config']);
        $seen = ['verdict' => 0, 'refused' => 0, 'not_an_array' => 0];
        $reasons = [];
        foreach ($v['cases'] as $case) {
            $desc = $case['desc'];
            $this->assertNotSame(array_key_exists('expected', $case), array_key_exists('error', $case), "$desc: expected or error");
            if (!is_array($case['facts'])) {
                // Facts that are a string, null or a number: checkTarget(array $facts) cannot carry
                // them, so PHP refuses the call before the library sees it (the Rust and C suites
                // check that the library answers data_invalid).
                $this->assertSame('data_invalid', $case['error'], $desc);
                try {
                    $ctx->checkTarget($case['opened'], $case['facts']);
                    $this->fail("$desc: called with non-array facts");
                } catch (\TypeError) {
                    $seen['not_an_array']++;
                }
                continue;
            }
            try {
                $verdict = $ctx->checkTarget($case['opened'], $case['facts']);
            } catch (Exception $e) {
                $this->assertArrayHasKey('error', $case, "$desc: refused with {$e->reason}, expected " . json_encode($case['expected'] ?? null));
                $this->assertSame($case['error'], $e->reason, $desc);
                // unknown_peer is code 301, in the configuration band: the binding throws a
                // ConfigException for it, every other refusal of the check is a MessageRefused.
                if ($case['error'] !== 'unknown_peer') {
                    $this->assertInstanceOf(MessageRefused::class, $e, $desc);
                }
                $seen['refused']++;
                $reasons[$e->reason] = true;
                continue;
            }
            $this->assertArrayHasKey('expected', $case, "$desc: verdict " . json_encode($verdict) . ', expected ' . ($case['error'] ?? '?'));
            $this->assertSame($case['expected'], $verdict, $desc);
            $seen['verdict']++;
        }
        $this->assertSame(count($v['cases']), array_sum($seen));
        $this->assertGreaterThanOrEqual(184, count($v['cases']));
        $this->assertSame(3, $seen['not_an_array']);
        $this->assertGreaterThan(50, $seen['verdict']);
        ksort($reasons);
        $this->assertSame(['data_invalid', 'identity_conflict', 'protected_account', 'unknown_account', 'unknown_peer', 'wrong_browser'], array_keys($reasons));
    }

    public function testProtectedAccounts(): void
    {
        $uid = Secret::uid();
        $o = $this->openOnB(['eid' => Secret::uid(), 'act' => 'update', 'data' => ['uid' => $uid, 'login' => 'alice', 'email' => 'alice@a.test', 'roles' => ['subscriber']]]);
        $this->assertSame($uid, $o['data']['uid']);
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($o, self::account($uid, ['subscriber'])));
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($o, self::account($uid, ['subscriber', 'editor'])));
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($o, self::account($uid, [])), 'no role: not protected');
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, ['administrator'])), 'administrator');
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, [], true)), 'super admin without a role');
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'], true)), 'super admin subscriber');
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber', 'shop_manager'])), 'one role not granted');
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, ['editor', 'administrator'])), 'administrator among others');
        // The host looked up the wrong account, or none is linked to this uid.
        $this->assertRefused('identity_conflict', fn() => $this->b->checkTarget($o, self::account(Secret::uid(), ['subscriber'])));
        $this->assertRefused('unknown_account', fn() => $this->b->checkTarget($o, ['account' => null]));
        // Refusals from the check are MessageRefused with the 6xx codes.
        try {
            $this->b->checkTarget($o, self::account($uid, ['administrator']));
            $this->fail('administrator accepted');
        } catch (MessageRefused $e) {
            $this->assertSame(601, $e->resultCode);
            $this->assertSame(601, $e->getCode());
        }
        // Every action is refused for a protected account, not only updates.
        $p = $this->openOnB(['eid' => Secret::uid(), 'act' => 'password', 'data' => ['uid' => $uid, 'login' => 'alice', 'pass_hash' => '$2y$10$' . str_repeat('a', 53)]]);
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($p, self::account($uid, ['administrator'])));
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($p, self::account($uid, ['subscriber'])));
    }

    public function testCreateDeleteAndLogoutVerdicts(): void
    {
        $uid = Secret::uid();
        $create = $this->openOnB(['eid' => Secret::uid(), 'act' => 'create', 'data' => ['uid' => $uid, 'login' => 'carol', 'email' => 'carol@a.test', 'roles' => ['subscriber']]]);
        $this->assertSame(['do' => 'create'], $this->b->checkTarget($create, ['account' => null]));
        $this->assertSame(['do' => 'create'], $this->b->checkTarget($create, ['account' => null, 'login_taken' => false, 'email_taken' => false]));
        $this->assertRefused('identity_conflict', fn() => $this->b->checkTarget($create, ['account' => null, 'login_taken' => true]), 'login taken');
        $this->assertRefused('identity_conflict', fn() => $this->b->checkTarget($create, ['account' => null, 'email_taken' => true]), 'email taken');
        // A create whose uid is already linked is applied as an update.
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($create, self::account($uid, ['subscriber'], false, ['login_taken' => true, 'email_taken' => true])));

        $delete = $this->openOnB(['eid' => Secret::uid(), 'act' => 'delete', 'data' => ['uid' => Secret::uid(), 'login' => 'nobody']]);
        $this->assertSame(['do' => 'skip'], $this->b->checkTarget($delete, ['account' => null]));

        $logout = $this->openOnB(['eid' => Secret::uid(), 'act' => 'logout', 'data' => ['uid' => $uid, 'login' => 'carol', 'sid' => 'a-session']]);
        $this->assertSame(['do' => 'skip'], $this->b->checkTarget($logout, ['account' => null]));
        $sessions = [['id' => 'local'], ['id' => 'from-a', 'iss' => 'a.test', 'sid' => 'a-session'],
                     ['id' => 'from-a-other', 'iss' => 'a.test', 'sid' => 'other'], ['id' => 'a-session', 'peers' => ['a.test']]];
        $withSessions = ['account' => ['uid' => $uid, 'roles' => ['subscriber'], 'super_admin' => false, 'sessions' => $sessions]];
        // With a sid: the sessions that came from that peer session, and this site's own session
        // of that name which sent a ticket to the sender.
        $this->assertSame(['do' => 'apply', 'end_sessions' => ['from-a', 'a-session']], $this->b->checkTarget($logout, $withSessions));
        $all = $this->openOnB(['eid' => Secret::uid(), 'act' => 'logout', 'data' => ['uid' => $uid, 'login' => 'carol']]);
        $this->assertSame(['do' => 'apply', 'end_sessions' => ['local', 'from-a', 'from-a-other', 'a-session']], $this->b->checkTarget($all, $withSessions));
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($all, ['account' => ['roles' => ['administrator'], 'sessions' => $sessions] + $withSessions['account']]));
    }

    public function testTicketsAreBoundToTheirBrowser(): void
    {
        $uid = Secret::uid();
        $value = Secret::nonce(43); // the binding cookie b set in this browser
        $bnd = Secret::bindingHash($value);
        $t = $this->a->mintTicket(['peer' => 'b.test', 'uid' => $uid, 'login' => 'lee', 'remember' => false, 'bnd' => $bnd, 'return' => 'https://b.test/account']);
        $this->assertSame('b.test', $t['peer']);
        $o = $this->b->openTicket($t['message']);
        $this->assertSame('login', $o['act']);
        $this->assertSame($bnd, $o['data']['bnd']);
        $this->assertSame(['do' => 'apply'], $this->b->checkTarget($o, self::account($uid, ['subscriber'], false, ['binding' => $value])));
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'], false, ['binding' => Secret::nonce(43)])), 'another browser');
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'], false, ['binding' => null])), 'no cookie');
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'])), 'binding absent');
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'], false, ['binding' => $bnd])), 'the hash as the cookie');
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, self::account($uid, ['subscriber'], false, ['binding' => "$value\n"])), 'trailing newline');
        // The binding is checked first; with it, the account rules apply to tickets too.
        $this->assertRefused('wrong_browser', fn() => $this->b->checkTarget($o, ['account' => null, 'binding' => null]));
        $this->assertRefused('unknown_account', fn() => $this->b->checkTarget($o, ['account' => null, 'binding' => $value]));
        $this->assertRefused('protected_account', fn() => $this->b->checkTarget($o, self::account($uid, ['administrator'], false, ['binding' => $value])));
    }

    public function testUidAndBndAreRequired(): void
    {
        $uid = Secret::uid();
        $bnd = Secret::bindingHash(Secret::nonce(43));
        $this->assertRefused('data_invalid', fn() => $this->a->build(['eid' => Secret::uid(), 'act' => 'update', 'data' => ['login' => 'alice', 'email' => 'alice@a.test']]), 'no uid');
        $this->assertRefused('data_invalid', fn() => $this->a->build(['eid' => Secret::uid(), 'act' => 'update', 'data' => ['uid' => 'alice', 'login' => 'alice', 'email' => 'alice@a.test']]), 'short uid');
        $this->assertRefused('data_invalid', fn() => $this->a->build(['eid' => Secret::uid(), 'act' => 'logout', 'data' => ['uid' => substr($uid, 0, 21) . '=', 'login' => 'alice']]), 'padded uid');
        $this->assertRefused('data_invalid', fn() => $this->a->mintTicket(['peer' => 'b.test', 'uid' => $uid, 'login' => 'lee', 'remember' => true]), 'no bnd');
        $this->assertRefused('data_invalid', fn() => $this->a->mintTicket(['peer' => 'b.test', 'login' => 'lee', 'remember' => true, 'bnd' => $bnd]), 'no uid');
        $this->assertRefused('data_invalid', fn() => $this->a->mintTicket(['peer' => 'b.test', 'uid' => $uid, 'login' => 'lee', 'remember' => true, 'bnd' => substr($bnd, 0, 42)]), 'short bnd');
        $this->assertCount(1, $this->a->build(['eid' => Secret::uid(), 'act' => 'update', 'data' => ['uid' => $uid, 'login' => 'alice', 'email' => 'alice@a.test']]));
    }

    public function testReturnUrls(): void
    {
        $this->assertSame('https://a.test/q?x=1#f', $this->a->checkReturn('HTTPS://A.Test:443/p/../q?x=1#f'));
        $this->assertSame('https://a.test/', $this->a->checkReturn('https://a.test'));
        $this->assertSame('https://b.test/', $this->a->checkReturn('https://B.TEST'), 'a peer');
        $this->assertSame('https://b.test/wp-admin/profile.php', $this->a->checkReturn('https://b.test/wp-admin/profile.php'));
        $this->assertSame('https://a.test/account', $this->b->checkReturn('https://a.test/account'), 'the other side');
        foreach (
            ['//evil.test', 'javascript:alert(1)', 'https://a.test.evil.test/', 'https://a.test@evil.test/', 'http://a.test/',
                  'https://a.test:8443/', '/relative', 'data:text/html,x', 'https://a.test/ x', 'https://a.test\\@evil.test/',
                  "https://a.test/\nx", 'https://c.test/', ''] as $bad
        ) {
            $this->assertRefused('return_url_refused', fn() => $this->a->checkReturn($bad), var_export($bad, true));
        }
    }
}
