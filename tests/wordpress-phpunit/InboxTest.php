<?php
// Usersync_Inbox: what the endpoint answers a peer's POST, and what it keeps: an event applies
// once (docs/protocol.md §11), a refusal names its reason code and changes nothing, and a write
// the database refuses is answered busy (the sender retries) with nothing kept.
declare(strict_types=1);

final class InboxTest extends UsersyncTestCase
{
    private static function createData(?string $uid = null, ?string $login = null): array
    {
        $login ??= self::unique();
        return ['uid' => $uid ?? Usersync\Secret::uid(), 'login' => $login, 'email' => "$login@example.org",
            'fields' => ['first_name' => 'Inbox'], 'roles' => ['subscriber'], 'meta' => ['billing_city' => ['Lyon']]];
    }

    /** Asserts a refusal: a 4xx answer with the reason code, logged, and nothing changed. */
    private function assertRefused(string $reason, string $body, string $remote = '127.0.0.1', ?string $logged = null): array
    {
        $before = self::state();
        [$status, $answer] = self::receive($body, $remote);
        $this->assertGreaterThanOrEqual(400, $status, json_encode($answer));
        $this->assertLessThan(500, $status, json_encode($answer));
        $this->assertSame('refused', $answer['result']);
        $this->assertSame($reason, $answer['reason']);
        $this->assertSame($before, self::state(), "a refusal ($reason) changes nothing");
        $last = array_reverse(self::log())[0];
        $this->assertSame(['in', 'refused'], [$last['direction'], $last['result']]);
        $this->assertStringStartsWith($logged ?? $reason, $last['reason']);
        return $answer;
    }

    public function testACreateIsAppliedOnceAndItsRetryIsADuplicate(): void
    {
        $data = self::createData();
        $eid = Usersync\Secret::uid();
        [$status, $answer] = self::receive(self::seal('blog.test', 'create', $data, $eid));
        $this->assertSame([200, 'applied'], [$status, $answer['result']]);
        $this->assertSame('shop.test', $answer['site'], 'every answer names this site');
        $this->assertEqualsWithDelta(time(), $answer['time'], 5, "and this site's clock");
        $user = Usersync_Links::user_of($data['uid']);
        $this->assertSame($data['login'], $user->user_login);
        $this->assertSame(['Lyon'], get_user_meta($user->ID, 'billing_city'));
        $this->assertSame([], Usersync_Events::take(), "a peer's change is never sent back");

        // The sender's retry after a lost answer: the same event, sealed again (a new jti).
        $before = self::state();
        [$status, $answer] = self::receive(self::seal('blog.test', 'create', $data, $eid));
        $this->assertSame([200, 'duplicate'], [$status, $answer['result']]);
        $this->assertSame($before, self::state());
        $this->assertSame([['applied', $eid], ['duplicate', $eid]], array_map(static fn($r) => [$r['result'], $r['eid']], self::log()));
    }

    public function testTheSameMessageTwiceIsADuplicate(): void
    {
        $message = self::seal('blog.test', 'create', self::createData());
        $this->assertSame('applied', self::receive($message)[1]['result']);
        [$status, $answer] = self::receive($message);
        $this->assertSame([200, 'duplicate'], [$status, $answer['result']]);
    }

    public function testEachAnsweredEventIsRecordedByItsSenderAndEventId(): void
    {
        $eid = Usersync\Secret::uid();
        self::receive(self::seal('blog.test', 'create', self::createData(), $eid));
        $seen = self::rows(Usersync_Schema::tables()['seen']);
        $this->assertCount(1, $seen);
        $this->assertSame(['blog.test', $eid], [$seen[0]['iss'], $seen[0]['msg_id']]);
        // Remembered longer than a sender retries (3 days by default): §11 says 7 days.
        $this->assertGreaterThanOrEqual(time() + 7 * DAY_IN_SECONDS - 60, (int) $seen[0]['exp']);
    }

    public function testAnEventIdIsPerSender(): void
    {
        $eid = Usersync\Secret::uid();
        $this->assertSame('applied', self::receive(self::seal('blog.test', 'create', self::createData(), $eid))[1]['result']);
        $this->assertSame('applied', self::receive(self::seal('news.test', 'create', self::createData(), $eid))[1]['result']);
    }

    public function testADeleteOfAnAccountNotHereIsSkippedAndRecorded(): void
    {
        $message = self::seal('blog.test', 'delete', ['uid' => Usersync\Secret::uid(), 'login' => 'not-here']);
        [$status, $answer] = self::receive($message);
        $this->assertSame([200, 'skipped'], [$status, $answer['result']]);
        $this->assertSame('duplicate', self::receive($message)[1]['result']);
    }

    public function testWhatIsNotAMessageIsRefusedWithTheEnvelopesReason(): void
    {
        $this->assertRefused('malformed_encoding', 'not a message!');
        $this->assertRefused('malformed_encoding', self::seal('blog.test', 'create', self::createData()) . "\n");
        $message = self::seal('blog.test', 'create', self::createData());
        $i = intdiv(strlen($message), 2);
        $tampered = substr_replace($message, 'A' === $message[$i] ? 'B' : 'A', $i, 1);
        $this->assertRefused('authentication_failed', $tampered);
        $stranger = new Usersync\Context(['site_id' => 'blog.test', 'url' => 'http://blog.test', 'peers' => [[
            'id' => 'shop.test', 'url' => 'http://shop.test', 'secrets' => [Usersync\Secret::generate()],
            'send' => ['actions' => ['create'], 'roles' => ['*'], 'meta' => ['*']]]]]);
        $forged = $stranger->build(['eid' => Usersync\Secret::uid(), 'act' => 'create', 'data' => self::createData()], 'shop.test');
        $this->assertRefused('authentication_failed', $forged[0]['message']);
    }

    public function testAPeersPolicyRefusalsNameTheirReason(): void
    {
        // news.test may only create here (site-config.php).
        [$user, $uid] = $this->linkedUser();
        $this->assertRefused('action_not_accepted', self::seal('news.test', 'update', ['uid' => $uid, 'login' => $user->user_login, 'email' => $user->user_email]));
        // §10: a privileged role refuses the whole message; so does protected meta (which no
        // usersync library sends: these come from a peer sealing its own claims).
        $this->assertRefused('privileged_role', self::seal('blog.test', 'create', ['roles' => ['administrator']] + self::createData()));
        $this->assertRefused('protected_meta', self::forge('blog.test', 'meta', ['uid' => $uid, 'login' => $user->user_login,
            'set' => ['wp_capabilities' => ['a:1:{s:13:"administrator";b:1;}']]]));
        $this->assertRefused('protected_meta', self::forge('blog.test', 'meta', ['uid' => $uid, 'login' => $user->user_login,
            'delete' => ['session_tokens']]));
        $this->assertRefused('protected_meta', self::forge('blog.test', 'update', ['uid' => $uid, 'login' => $user->user_login,
            'email' => $user->user_email, 'meta' => ['usersync_uid' => ['x']]]));
        // §8/§9: claims and data are closed.
        $this->assertRefused('unknown_field', self::forge('blog.test', 'delete', ['uid' => $uid, 'login' => $user->user_login, 'why' => 'x']));
        $this->assertRefused('pass_hash_format', self::forge('blog.test', 'password', ['uid' => $uid, 'login' => $user->user_login,
            'pass_hash' => 'plaintext password']));
    }

    public function testAnAddressOutsideIpAllowIsRefusedAndTold(): void
    {
        $answer = $this->assertRefused('ip_not_allowed', self::seal('blog.test', 'create', self::createData()), '192.0.2.7');
        $this->assertSame('192.0.2.7', $answer['seen_from'], 'the sender learns the address it was seen from');
    }

    public function testTheTargetChecksRefusalsNameTheirReason(): void
    {
        $taken = $this->newUser(); // a local account, not linked
        $this->assertRefused('identity_conflict', self::seal('blog.test', 'create', self::createData(null, $taken->user_login)));
        $this->assertRefused('unknown_account', self::seal('blog.test', 'update', self::createData()));
        [$admin, $uid] = $this->linkedUser(['role' => 'administrator']);
        $this->assertRefused('protected_account', self::seal('blog.test', 'password', ['uid' => $uid, 'login' => $admin->user_login,
            'pass_hash' => wp_hash_password('taken over')]));
        $this->assertRefused('protected_account', self::seal('blog.test', 'delete', ['uid' => $uid, 'login' => $admin->user_login]));
        $this->assertNotFalse(get_userdata($admin->ID));
    }

    public function testAVetoIsARefusalThatKeepsNothing(): void
    {
        $veto = static function () {
            throw new Usersync_Apply_Failed('closed for sign-ups');
        };
        add_action('usersync_before_apply', $veto);
        try {
            $data = self::createData();
            wp_cache_set('sentinel', 'kept', 'usersync-test');
            $this->assertRefused('apply_failed: closed for sign-ups', self::seal('blog.test', 'create', $data), '127.0.0.1', 'closed for sign-ups');
            $this->assertFalse(get_user_by('login', $data['login']));
            $this->assertSame('kept', wp_cache_get('sentinel', 'usersync-test'), 'refused before any write: the object cache is not emptied');
        } finally {
            remove_action('usersync_before_apply', $veto);
        }
    }

    public function testAfterApplyRunsForAppliedChangesOnly(): void
    {
        $applied = [];
        $record = static function ($opened, $verdict) use (&$applied) {
            $applied[] = [$opened['act'], $opened['eid'], $verdict['do']];
        };
        add_action('usersync_after_apply', $record, 10, 2);
        try {
            $eid = Usersync\Secret::uid();
            self::receive(self::seal('blog.test', 'create', self::createData(), $eid));
            self::receive(self::seal('blog.test', 'update', self::createData()));  // refused: unknown account
            self::receive(self::seal('blog.test', 'delete', ['uid' => Usersync\Secret::uid(), 'login' => 'gone'])); // skipped
        } finally {
            remove_action('usersync_after_apply', $record, 10);
        }
        $this->assertSame([['create', $eid, 'create']], $applied);
    }

    /**
     * A write the database refuses while the change is applied (a deadlock, a lock wait): busy,
     * nothing kept, and the sender's retry of the same event is applied.
     */
    private function assertBusyThenApplied(string $table_word): void
    {
        $data = self::createData();
        $eid = Usersync\Secret::uid();
        $fail = static function ($query) use ($table_word) {
            return preg_match('/^\s*INSERT (IGNORE )?INTO `?' . preg_quote($table_word, '/') . '`?\s/i', $query) ? "INSERT INTO {$query}_no_such_table" : $query;
        };
        $before = self::state();
        wp_cache_set('sentinel', 'kept', 'usersync-test');
        add_filter('query', $fail);
        try {
            [$status, $answer] = self::quietly(fn() => self::receive(self::seal('blog.test', 'create', $data, $eid)));
        } finally {
            remove_filter('query', $fail);
        }
        $this->assertSame([503, 'busy'], [$status, $answer['result']], "a failed write to $table_word: " . json_encode($answer));
        $this->assertSame($before, self::state(), 'nothing of the change is kept');
        // Once the change had written (all but the replay record's failure), the cache is emptied.
        $this->assertSame(Usersync_Schema::tables()['seen'] === $table_word ? 'kept' : false, wp_cache_get('sentinel', 'usersync-test'));
        [$status, $answer] = self::receive(self::seal('blog.test', 'create', $data, $eid));
        $this->assertSame([200, 'applied'], [$status, $answer['result']], 'the retry is applied, not a duplicate');
        $this->assertSame($data['login'], Usersync_Links::user_of($data['uid'])->user_login);
    }

    public function testAFailedMetaWriteIsAnsweredBusy(): void
    {
        global $wpdb;
        $this->assertBusyThenApplied($wpdb->usermeta);
    }

    public function testAFailedLinkWriteIsAnsweredBusy(): void
    {
        $this->assertBusyThenApplied(Usersync_Schema::tables()['links']);
    }

    public function testAFailedAccountWriteIsAnsweredBusy(): void
    {
        global $wpdb;
        $this->assertBusyThenApplied($wpdb->users);
    }

    public function testAFailedReplayRecordIsAnsweredBusy(): void
    {
        $this->assertBusyThenApplied(Usersync_Schema::tables()['seen']);
    }

    public function testAUniqueKeyRefusingTheLinkIsARefusalNotBusy(): void
    {
        global $wpdb;
        // A uid still linked to an account deleted behind WordPress's back: a conflict no retry solves.
        $uid = Usersync\Secret::uid();
        $wpdb->insert(Usersync_Schema::tables()['links'], ['uid' => $uid, 'user_id' => 2000000000, 'linked_at' => time()]);
        $data = self::createData($uid);
        $before = self::state();
        [$status, $answer] = self::quietly(fn() => self::receive(self::seal('blog.test', 'create', $data)));
        $this->assertSame('refused', $answer['result']);
        $this->assertTrue($status >= 400 && $status < 500, "a final refusal: $status");
        $this->assertStringStartsWith('apply_failed: ', $answer['reason']);
        $this->assertSame($before, self::state());
        $this->assertFalse(get_user_by('login', $data['login']));
    }

    public function testAPingIsAnsweredWithASealedPongOnce(): void
    {
        $blog = self::peer('blog.test');
        $ping = $blog->ping('shop.test');
        [$status, $answer] = self::receive($ping['message']);
        $this->assertSame([200, 'pong'], [$status, $answer['result']]);
        $pong = $blog->checkPong($ping, $answer['message'], '127.0.0.1');
        $this->assertIsArray($pong);
        $this->assertSame('duplicate', self::receive($ping['message'])[1]['result'], 'a replayed ping is not answered');
    }
}
