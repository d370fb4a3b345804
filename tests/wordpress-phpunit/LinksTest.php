<?php
// Usersync_Links: which local account carries which uid (docs/protocol.md §15), and the facts
// the library's target check is given about it.
declare(strict_types=1);

final class LinksTest extends UsersyncTestCase
{
    public function testAMintedUidIsAProtocolUidLinkedBothWays(): void
    {
        $user = $this->newUser();
        $this->assertNull(Usersync_Links::uid_of($user->ID), 'an account is not linked until it enters the network');
        $uid = Usersync_Links::mint($user->ID);
        // §9: 16 random bytes in canonical base64url without padding.
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', $uid);
        $this->assertSame(16, strlen(base64_decode(strtr($uid, '-_', '+/'), true)));
        $this->assertSame($uid, Usersync_Links::uid_of($user->ID));
        $this->assertSame($user->ID, Usersync_Links::user_of($uid)->ID);
        $this->assertSame($uid, Usersync_Links::mint($user->ID), 'a linked account keeps its uid');
        $this->assertNotSame($uid, Usersync_Links::mint($this->newUser()->ID));
    }

    public function testUidsAreComparedByteForByte(): void
    {
        $user = $this->newUser();
        $uid = 'abcdefghijklmnopqrstuv';
        Usersync_Links::link($user->ID, $uid);
        $this->assertSame($user->ID, Usersync_Links::user_of($uid)->ID);
        $this->assertNull(Usersync_Links::user_of(strtoupper($uid)), 'base64url: "a" and "A" are different bytes');
        $other = $this->newUser();
        Usersync_Links::link($other->ID, strtoupper($uid));
        $this->assertSame($other->ID, Usersync_Links::user_of(strtoupper($uid))->ID);
    }

    public function testNeitherAnAccountNorAUidIsLinkedTwice(): void
    {
        [$user, $uid] = $this->linkedUser();
        $other = $this->newUser();
        foreach ([[$user->ID, Usersync\Secret::uid()], [$other->ID, $uid]] as [$id, $second]) {
            try {
                self::quietly(static fn() => Usersync_Links::link($id, $second));
                $this->fail("a second link for user $id / $second was accepted");
            } catch (Usersync_Apply_Failed $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
        $this->assertSame($uid, Usersync_Links::uid_of($user->ID));
        $this->assertNull(Usersync_Links::uid_of($other->ID));
    }

    public function testALinkToADeletedAccountNamesNobody(): void
    {
        [$user, $uid] = $this->linkedUser();
        wp_delete_user($user->ID);
        $this->assertNull(Usersync_Links::user_of($uid));
        $this->assertNull(Usersync_Links::uid_of($user->ID));
    }

    public function testFactsOfALinkedAccountAreItsUidAndRolesNow(): void
    {
        [$user, $uid] = $this->linkedUser(['role' => 'editor']);
        $user->add_role('subscriber');
        [$facts, $found] = Usersync_Links::facts(self::opened('blog.test', 'update', ['uid' => $uid, 'login' => 'any-login', 'email' => 'x@example.org']));
        $this->assertSame($user->ID, $found->ID);
        $this->assertSame($uid, $facts['account']['uid']);
        $this->assertEqualsCanonicalizing(['editor', 'subscriber'], $facts['account']['roles']);
        $this->assertFalse($facts['account']['super_admin'], 'not a multisite');
        $this->assertArrayNotHasKey('sessions', $facts['account'], 'sessions are for a logout');
    }

    public function testFactsOfACreateSayWhetherTheLoginOrEmailIsTakenHere(): void
    {
        $local = $this->newUser(); // not linked: it still takes its login and email
        $uid = Usersync\Secret::uid();
        $cases = [
            [$local->user_login, 'free-' . $local->user_email, true, false],
            ['free-' . $local->user_login, $local->user_email, false, true],
            ['free-' . $local->user_login, 'free-' . $local->user_email, false, false],
        ];
        foreach ($cases as [$login, $email, $login_taken, $email_taken]) {
            [$facts, $found] = Usersync_Links::facts(self::opened('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => $email]));
            $this->assertNull($found);
            $this->assertNull($facts['account']);
            $this->assertSame($login_taken, $facts['login_taken'], $login);
            $this->assertSame($email_taken, $facts['email_taken'], $email);
        }
    }

    public function testFactsOfAnUnknownUidNameNoAccount(): void
    {
        [$facts, $found] = Usersync_Links::facts(self::opened('blog.test', 'password',
            ['uid' => Usersync\Secret::uid(), 'login' => 'nobody', 'pass_hash' => wp_hash_password('pw')]));
        $this->assertNull($found);
        $this->assertNull($facts['account']);
    }

    public function testFactsOfALogoutListTheSessionsByWordPresssVerifier(): void
    {
        [$user, $uid] = $this->linkedUser();
        $manager = WP_Session_Tokens::get_instance($user->ID);
        $local = $manager->create(time() + 3600);
        $from_blog = $manager->create(time() + 3600);
        // A session single sign-on started from blog.test's session "s-1" is marked so.
        $sessions = get_user_meta($user->ID, 'session_tokens', true);
        $sessions[hash('sha256', $from_blog)] += ['usersync_iss' => 'blog.test', 'usersync_sid' => 's-1'];
        $sessions[hash('sha256', $local)] += ['usersync_peers' => ['news.test']];
        update_user_meta($user->ID, 'session_tokens', $sessions);

        [$facts] = Usersync_Links::facts(self::opened('blog.test', 'logout', ['uid' => $uid, 'login' => $user->user_login]));
        // WordPress stores each session under SHA-256 of its token (WP_User_Meta_Session_Tokens).
        $by_id = array_column($facts['account']['sessions'], null, 'id');
        $this->assertEqualsCanonicalizing([hash('sha256', $local), hash('sha256', $from_blog)], array_keys($by_id));
        $this->assertSame('blog.test', $by_id[hash('sha256', $from_blog)]['iss']);
        $this->assertSame('s-1', $by_id[hash('sha256', $from_blog)]['sid']);
        $this->assertNull($by_id[hash('sha256', $local)]['iss']);
        $this->assertSame(['news.test'], $by_id[hash('sha256', $local)]['peers']);
    }

    public function testFactsAreWhatTheLibrarysTargetCheckDecidesOn(): void
    {
        // An account holding a role blog.test may not grant is protected (§15 step 5).
        [$admin, $uid] = $this->linkedUser(['role' => 'administrator']);
        $opened = self::opened('blog.test', 'update', ['uid' => $uid, 'login' => $admin->user_login, 'email' => $admin->user_email]);
        [$facts] = Usersync_Links::facts($opened);
        try {
            Usersync_Settings::context()->checkTarget($opened, $facts);
            $this->fail('an administrator was changed by a peer');
        } catch (Usersync\Exception $e) {
            $this->assertSame('protected_account', $e->reason);
        }
        [$editor, $uid] = $this->linkedUser(['role' => 'editor']);
        $opened = self::opened('blog.test', 'update', ['uid' => $uid, 'login' => $editor->user_login, 'email' => $editor->user_email]);
        [$facts] = Usersync_Links::facts($opened);
        $this->assertSame('apply', Usersync_Settings::context()->checkTarget($opened, $facts)['do']);
    }
}
