<?php
// Usersync_Outbox: events queued first, then routed (a uid, an event id, one row per peer the
// library routes them to) and delivered to each peer's inbox (here the stub), with what each
// answer means for the row. site-config.php's policies: blog.test is sent everything, news.test
// creates and updates, down.test (nothing listens) deletes only.
declare(strict_types=1);

final class OutboxTest extends UsersyncTestCase
{
    /** @var array[] usersync_delivery_result's arguments, in order */
    private array $results = [];

    protected function setUp(): void
    {
        parent::setUp();
        $this->results = [];
        add_action('usersync_delivery_result', [$this, 'recordResult'], 10, 6);
    }

    protected function tearDown(): void
    {
        remove_action('usersync_delivery_result', [$this, 'recordResult'], 10);
        parent::tearDown();
    }

    public function recordResult(...$args): void
    {
        $this->results[] = $args;
    }

    /** The outbox's rows, oldest first. */
    private static function outbox(): array
    {
        global $wpdb;
        return $wpdb->get_results('SELECT * FROM ' . Usersync_Schema::tables()['outbox'] . ' ORDER BY id', ARRAY_A);
    }

    private static function peersOf(array $rows): array
    {
        $peers = array_column($rows, 'peer');
        sort($peers);
        return $peers;
    }

    /** Makes every waiting row due now, as if its backoff had passed. */
    private static function timePasses(): void
    {
        global $wpdb;
        $wpdb->query($wpdb->prepare('UPDATE ' . Usersync_Schema::tables()['outbox'] . ' SET next_attempt = %d', time()));
    }

    /**
     * Runs $run with a filter on $hook made by $filter from a second database connection (it
     * sees what is committed, as another run does), then removes the filter and closes it.
     */
    private static function withOtherConnection(string $hook, callable $filter, callable $run): void
    {
        $other = new wpdb(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
        $made = $filter($other);
        add_filter($hook, $made);
        try {
            $run();
        } finally {
            remove_filter($hook, $made);
            $other->close();
        }
    }

    /** The request's events to the outbox, then a delivery run. */
    private static function flushAndDeliver(): void
    {
        Usersync_Events::flush();
        Usersync_Outbox::deliver();
    }

    public function testEnqueueWritesOneUnroutedRowPerEvent(): void
    {
        Usersync_Outbox::enqueue([]);
        $this->assertSame(0, Usersync_Outbox::unrouted());
        Usersync_Outbox::enqueue([
            ['user_id' => 7, 'act' => 'meta', 'data' => ['login' => 'seven', 'set' => ['billing_city' => ['Gent']]]],
            ['act' => 'delete', 'data' => ['uid' => Usersync\Secret::uid(), 'login' => 'gone']],
        ]);
        $this->assertSame(2, Usersync_Outbox::unrouted());
        $rows = self::outbox();
        $this->assertSame([['', '7', 'meta', 'seven'], ['', '0', 'delete', 'gone']],
            array_map(static fn($r) => [$r['peer'], $r['user_id'], $r['act'], $r['login']], $rows));
        $this->assertSame(['act' => 'meta', 'data' => ['login' => 'seven', 'set' => ['billing_city' => ['Gent']]]], json_decode($rows[0]['event'], true));
        $this->assertEqualsWithDelta(time(), (int) $rows[0]['created_at'], 5);
        // Each with its event id, fixed here; a sign-up with its account's uid-to-be.
        Usersync_Outbox::enqueue([['user_id' => 8, 'act' => 'create', 'data' => ['login' => 'eight']]]);
        $rows = self::outbox();
        foreach ($rows as $row) {
            $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', $row['eid']);
        }
        $this->assertCount(3, array_unique(array_column($rows, 'eid')));
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', json_decode($rows[2]['event'], true)['mint']);
        $this->assertArrayNotHasKey('mint', json_decode($rows[0]['event'], true));
    }

    public function testAPeerDeliveredByAnotherRunMeanwhileIsNotSentItsOldEventAgain(): void
    {
        // A run reads every peer's oldest event, then takes the free peers' locks and reads them
        // again: when another run delivered a peer's last event in between, nothing is sent to it
        // (the first reading's event was sent again, and answered "duplicate").
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        self::stubAnswers('news', 503, ['result' => 'busy']);
        $this->newUser([], true);
        self::flushAndDeliver(); // routed; both peers answered busy: the rows wait
        self::timePasses();
        $this->assertCount(2, self::outbox());
        self::stubAnswers('blog', 200, ['result' => 'applied']);
        self::stubAnswers('news', 200, ['result' => 'applied']);
        $table = Usersync_Schema::tables()['outbox'];
        $meanwhile = static fn(wpdb $other) => static function ($query) use ($other, $table) {
            if (preg_match("/GET_LOCK\\('[^']+', 0\\)/", $query)) {
                $other->query("DELETE FROM $table"); // as the other run's delivery of both ends them
            }
            return $query;
        };
        $sent = [count(self::stubReceived('blog')), count(self::stubReceived('news'))];
        self::withOtherConnection('query', $meanwhile, static fn() => Usersync_Outbox::deliver());
        $this->assertSame($sent, [count(self::stubReceived('blog')), count(self::stubReceived('news'))], 'nothing sent again');
        $this->assertSame([], self::outbox());
    }

    public function testARunLostBeforeRoutingCommitsIsRoutedAgainAsTheSameEvent(): void
    {
        // The peers' requests leave before routing commits. The queued row holds the event's id
        // and the sign-up's uid, so when that commit is lost (here: rolled back once the first
        // request is prepared, as a crash would lose it) the next run sends the same event, which
        // the peer answers "duplicate", and links the account to the uid the peer was given.
        global $wpdb;
        self::stubAnswers('blog', 200, ['result' => 'applied']);
        self::stubAnswers('news', 200, ['result' => 'applied']);
        $user = $this->newUser([], true);
        $queued = [];
        $crash = static function (wpdb $other) use (&$queued, $wpdb) {
            return static function ($args) use (&$queued, $other, $wpdb) {
                $queued[] = (int) $other->get_var('SELECT COUNT(*) FROM ' . Usersync_Schema::tables()['outbox'] . " WHERE peer = ''");
                if (1 === count($queued)) {
                    $wpdb->query('ROLLBACK');
                }
                return $args;
            };
        };
        self::withOtherConnection('http_request_args', $crash, static fn() => self::flushAndDeliver());
        $this->assertSame(1, $queued[0], 'the first request was prepared while routing was not committed');
        $this->assertNull(Usersync_Links::uid_of($user->ID), 'routing was lost');
        $this->assertSame(1, Usersync_Outbox::unrouted());
        $first = self::openAtPeer('blog.test', self::stubReceived('blog')[0]);

        Usersync_Outbox::deliver();
        $received = self::stubReceived('blog');
        $this->assertCount(2, $received);
        $again = self::openAtPeer('blog.test', $received[1]);
        $this->assertSame([$first['eid'], $first['data']['uid']], [$again['eid'], $again['data']['uid']]);
        $this->assertSame($first['data']['uid'], Usersync_Links::uid_of($user->ID));
        $this->assertSame(0, Usersync_Outbox::unrouted());
    }

    public function testACreateIsRoutedWithANewUidAndOneEventIdToEveryPeerThatTakesIt(): void
    {
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        self::stubAnswers('news', 503, ['result' => 'busy']);
        $user = $this->newUser(['first_name' => 'Routed'], true);
        update_user_meta($user->ID, 'billing_city', 'Gent');
        self::flushAndDeliver();

        $uid = Usersync_Links::uid_of($user->ID);
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', (string) $uid, 'the account entered the network here');
        $rows = self::outbox();
        $this->assertSame(['blog.test', 'news.test'], self::peersOf($rows), 'down.test is sent deletes only');
        $this->assertSame(0, Usersync_Outbox::unrouted());
        $eid = $rows[0]['eid'];
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{22}$/', $eid);
        $this->assertNotSame($uid, $eid);
        foreach ($rows as $row) {
            $this->assertSame([$eid, (string) $user->ID, 'create', $user->user_login], [$row['eid'], $row['user_id'], $row['act'], $row['login']]);
        }

        // What each peer got, opened by the peer's own library.
        foreach (['blog' => 'blog.test', 'news' => 'news.test'] as $stub => $peer) {
            $received = self::stubReceived($stub);
            $this->assertCount(1, $received, $peer);
            $this->assertSame('POST', $received[0]['method']);
            $this->assertSame('rest_route=/usersync/v1/inbox', $received[0]['query']);
            $opened = self::openAtPeer($peer, $received[0]);
            $this->assertSame(['shop.test', 'create', $eid, $uid, $user->user_login, 'Routed'],
                [$opened['iss'], $opened['act'], $opened['eid'], $opened['data']['uid'], $opened['data']['login'], $opened['data']['fields']['first_name']]);
        }
        $blog = self::openAtPeer('blog.test', self::stubReceived('blog')[0]);
        $this->assertSame(['Gent'], $blog['data']['meta']['billing_city']);
        $news = self::openAtPeer('news.test', self::stubReceived('news')[0]);
        $this->assertArrayNotHasKey('meta', $news['data'], "news.test's send policy names no meta");
        $this->assertArrayNotHasKey('pass_hash', $news['data'], 'news.test is not sent passwords');
    }

    public function testASignUpWhoseLinkCannotBeStoredWaitsForTheNextRun(): void
    {
        // The database refuses the new account's link: nothing is routed, the run ends normally,
        // the queued row stays, and the next request's end delivers it (usersync_retry_at).
        global $wpdb;
        self::stubAnswers('blog', 200, ['result' => 'applied']);
        self::stubAnswers('news', 200, ['result' => 'applied']);
        $user = $this->newUser([], true);
        $links = Usersync_Schema::tables()['links'];
        $break = static fn($sql) => str_starts_with($sql, "INSERT IGNORE INTO $links") ? str_replace($links, $links . '_missing', $sql) : $sql;
        add_filter('query', $break);
        try {
            self::quietly(static fn() => self::flushAndDeliver());
        } finally {
            remove_filter('query', $break);
        }
        $this->assertNull(Usersync_Links::uid_of($user->ID));
        $this->assertSame(1, Usersync_Outbox::unrouted());
        $this->assertSame([], self::stubReceived('blog'));
        // As the next request reads it: from the database (this process's option cache may be older).
        $due = (int) $wpdb->get_var("SELECT option_value FROM $wpdb->options WHERE option_name = 'usersync_retry_at'");
        $this->assertLessThanOrEqual(time(), $due);
        $this->assertGreaterThan(0, $due, 'a delivery is due');

        Usersync_Outbox::deliver();
        $this->assertNotNull(Usersync_Links::uid_of($user->ID));
        $this->assertSame(0, Usersync_Outbox::unrouted());
        $this->assertCount(1, self::stubReceived('blog'));
    }

    public function testEachActionGoesOnlyToThePeersThatAreSentIt(): void
    {
        [$user] = $this->linkedUser();
        wp_set_password('routed password 1', $user->ID);
        self::flushAndDeliver();
        $this->assertSame(['password'], array_map(static fn($r) => self::openAtPeer('blog.test', $r)['act'], self::stubReceived('blog')));
        $this->assertSame([], self::stubReceived('news'));
        $this->assertSame([], self::outbox(), 'delivered: nothing waits');
        $this->assertSame([['delivered', 'blog.test', 'password', $user->user_login]], array_map(static fn($r) => array_slice($r, 0, 4), $this->results));
    }

    public function testAccountsThatAreNotLinkedAreNotSynced(): void
    {
        $user = $this->newUser(); // as if it existed before the link: no uid
        update_user_meta($user->ID, 'billing_city', 'Gent');
        wp_update_user(['ID' => $user->ID, 'display_name' => 'Local only']);
        self::flushAndDeliver();
        $this->assertSame([], self::outbox());
        $this->assertNull(Usersync_Links::uid_of($user->ID));
        $this->assertSame([], array_merge(self::stubReceived('blog'), self::stubReceived('news')));
    }

    public function testAnEventTheFilterDropsGoesNowhere(): void
    {
        $drop = static fn($event) => 'create' === $event['act'] ? false : $event;
        add_filter('usersync_event', $drop);
        try {
            $user = $this->newUser([], true);
            self::flushAndDeliver();
        } finally {
            remove_filter('usersync_event', $drop);
        }
        $this->assertSame([], self::outbox());
        $this->assertSame([], array_merge(self::stubReceived('blog'), self::stubReceived('news')));
        $this->assertNull(Usersync_Links::uid_of($user->ID), 'a create sent nowhere does not link the account');
    }

    public function testAnEventTheLibraryRefusesToSendIsLoggedAndDropped(): void
    {
        [$user] = $this->linkedUser();
        // §9: passwords travel as hashes only, and senders check it too.
        Usersync_Outbox::enqueue([['user_id' => $user->ID, 'act' => 'password', 'data' => ['login' => $user->user_login, 'pass_hash' => 'hunter2']]]);
        Usersync_Outbox::deliver();
        $this->assertSame([], self::outbox());
        $this->assertSame([], self::stubReceived('blog'));
        $last = array_reverse(self::log())[0];
        $this->assertSame(['out', 'refused', 'pass_hash_format'], [$last['direction'], $last['result'], $last['reason']]);
        $this->assertStringNotContainsString('hunter2', json_encode(self::log()));
    }

    /** @return array[] [stub answer status, body, the outcome, whether the row stays] */
    public static function answers(): array
    {
        return [
            'applied' => [200, ['result' => 'applied'], 'delivered', false],
            'skipped there' => [200, ['result' => 'skipped'], 'delivered', false],
            'a duplicate' => [200, ['result' => 'duplicate'], 'duplicate', false],
            'refused' => [409, ['result' => 'refused', 'reason' => 'identity_conflict'], 'refused', false],
            'busy' => [503, ['result' => 'busy', 'reason' => 'another create is being applied here'], 'retry', true],
            'not usersync' => [404, '<html>Not Found</html>', 'retry', true],
            'a server error' => [500, 'oops', 'retry', true],
            'an OK that says nothing' => [200, 'OK', 'retry', true],
        ];
    }

    /** @dataProvider answers */
    public function testEachAnswerSettlesTheRow(int $status, $body, string $outcome, bool $stays): void
    {
        [$user] = $this->linkedUser();
        wp_set_password('settled password 1', $user->ID);
        self::stubAnswers('blog', $status, $body);
        self::flushAndDeliver();
        $this->assertCount(1, $this->results);
        [$result, $peer, $act, $login, $reason, $eid] = $this->results[0];
        $this->assertSame([$outcome, 'blog.test', 'password', $user->user_login], [$result, $peer, $act, $login]);
        $this->assertSame(self::openAtPeer('blog.test', self::stubReceived('blog')[0])['eid'], $eid);
        $rows = self::outbox();
        $this->assertCount($stays ? 1 : 0, $rows);
        $logged = array_reverse(self::log())[0];
        $this->assertSame(['out', 'blog.test', $outcome, $eid], [$logged['direction'], $logged['peer'], $logged['result'], $logged['eid']]);
        if ('refused' === $outcome) {
            $this->assertSame('identity_conflict', $reason, "the peer's reason code");
        }
        if ($stays) {
            $this->assertSame('1', $rows[0]['attempts']);
            $this->assertStringContainsString((string) $status, $rows[0]['last_error']);
            $this->assertSame($reason, $rows[0]['last_error']);
        }
    }

    public function testAPeerThatIsDownIsRetriedWithTheReasonInPlainWords(): void
    {
        [$gone] = $this->linkedUser();
        wp_delete_user($gone->ID);
        self::flushAndDeliver();
        $down = array_values(array_filter(self::outbox(), static fn($r) => 'down.test' === $r['peer']));
        $this->assertCount(1, $down);
        $this->assertSame('1', $down[0]['attempts']);
        $this->assertStringContainsString('connection refused', $down[0]['last_error']);
        $this->assertSame(['delete'], array_map(static fn($r) => self::openAtPeer('blog.test', $r)['act'], self::stubReceived('blog')));
        $this->assertSame(['down.test' => ['waiting' => 1, 'error' => $down[0]['last_error']]],
            array_intersect_key(Usersync_Outbox::health(), ['down.test' => 1]));
    }

    public function testAPostNowReportsTheAnswerOrTheNetworkErrorInPlainWords(): void
    {
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        $answer = Usersync_Outbox::post_now(Usersync_Settings::inbox_url(Usersync_Settings::peer('blog.test')), 'a body');
        $this->assertSame([503, '127.0.0.1', ''], [$answer['status'], $answer['ip'], $answer['error']]);
        $this->assertSame(['result' => 'busy'], json_decode($answer['body'], true));
        $this->assertSame('a body', self::stubReceived('blog')[0]['body']);

        $answer = Usersync_Outbox::post_now(Usersync_Settings::inbox_url(Usersync_Settings::peer('down.test')), 'a body');
        $this->assertSame(0, $answer['status']);
        $this->assertStringContainsString('connection refused', $answer['error']);
    }

    public function testRetriesBackOffFromTheBaseDelayAndKeepTheEventId(): void
    {
        // USERSYNC_RETRY_BASE is 7 s here (site-config.php), doubling per attempt up to an hour.
        [$user] = $this->linkedUser();
        wp_set_password('retried password 1', $user->ID);
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        Usersync_Events::flush();
        foreach ([1 => 7, 2 => 14, 3 => 28] as $attempts => $delay) {
            self::timePasses();
            $start = time();
            Usersync_Outbox::deliver();
            $row = self::outbox()[0];
            $this->assertSame((string) $attempts, $row['attempts']);
            $this->assertGreaterThanOrEqual($start + $delay, (int) $row['next_attempt'], "attempt $attempts");
            $this->assertLessThanOrEqual(time() + $delay, (int) $row['next_attempt'], "attempt $attempts");
        }
        // Not due: a run sends nothing.
        Usersync_Outbox::deliver();
        $received = self::stubReceived('blog');
        $this->assertCount(3, $received);
        $opened = array_map(static fn($r) => self::openAtPeer('blog.test', $r), $received);
        $this->assertCount(1, array_unique(array_column($opened, 'eid')), 'every retry carries the same event id');
        $this->assertCount(3, array_unique(array_column($opened, 'jti')), 'each is sealed anew');

        global $wpdb;
        $wpdb->query('UPDATE ' . Usersync_Schema::tables()['outbox'] . ' SET attempts = 20');
        self::timePasses();
        $start = time();
        Usersync_Outbox::deliver();
        $this->assertGreaterThanOrEqual($start + HOUR_IN_SECONDS, (int) self::outbox()[0]['next_attempt']);
        $this->assertLessThanOrEqual(time() + HOUR_IN_SECONDS, (int) self::outbox()[0]['next_attempt'], 'at most an hour');

        self::stubAnswers('blog', 200, ['result' => 'applied']);
        self::timePasses();
        Usersync_Outbox::deliver();
        $this->assertSame([], self::outbox());
    }

    public function testAPeerDeliversInOrderAndAWaitingPeerHoldsNoOther(): void
    {
        [$user] = $this->linkedUser();
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        wp_update_user(['ID' => $user->ID, 'display_name' => 'First']);
        Usersync_Events::flush();
        wp_update_user(['ID' => $user->ID, 'display_name' => 'Second']);
        Usersync_Events::flush();
        Usersync_Outbox::deliver();
        // blog.test's first event waits for its retry, and its second waits behind it.
        $this->assertSame(['First'], array_map(static fn($r) => self::openAtPeer('blog.test', $r)['data']['fields']['display_name'], self::stubReceived('blog')));
        $this->assertSame(['First', 'Second'], array_map(static fn($r) => self::openAtPeer('news.test', $r)['data']['fields']['display_name'], self::stubReceived('news')));
        $this->assertSame(['blog.test', 'blog.test'], array_column(self::outbox(), 'peer'));

        self::stubAnswers('blog', 200, ['result' => 'applied']);
        self::timePasses();
        Usersync_Outbox::deliver();
        $this->assertSame(['First', 'First', 'Second'], array_map(static fn($r) => self::openAtPeer('blog.test', $r)['data']['fields']['display_name'], self::stubReceived('blog')));
        $this->assertSame([], self::outbox());
    }

    public function testAnEventUndeliveredPastItsTimeToLiveExpires(): void
    {
        global $wpdb;
        [$user] = $this->linkedUser();
        wp_set_password('expiring password 1', $user->ID);
        self::stubAnswers('blog', 503, ['result' => 'busy']);
        self::flushAndDeliver();
        $this->assertCount(1, self::outbox());
        // readme.txt: USERSYNC_OUTBOX_TTL, default 3 days.
        $wpdb->query($wpdb->prepare('UPDATE ' . Usersync_Schema::tables()['outbox'] . ' SET created_at = %d', time() - 3 * DAY_IN_SECONDS - 60));
        self::timePasses();
        $this->results = [];
        Usersync_Outbox::deliver();
        $this->assertSame([], self::outbox());
        $this->assertCount(1, self::stubReceived('blog'), 'not sent again');
        $this->assertSame('expired', array_reverse(self::log())[0]['result']);
    }

    public function testTwoSitesOnOneDatabaseServerDoNotShareTheirLocks(): void
    {
        // MariaDB's named locks are server-wide. This site holds its routing lock...
        Usersync_Outbox::hold_routing();
        // ...while the site with tables wp2_ on the same server signs someone up and routes it,
        $login = self::unique();
        $id = self::site('other', 'signup', ['login' => $login, 'email' => "$login@example.org"])['id'];
        $this->assertNotNull(self::site('other', 'uid', ['id' => $id]), 'other.test routed its sign-up at once');
        $this->assertCount(1, self::stubReceived('other-blog'));

        // ...but another request of this same site cannot route while the lock is held (it
        // gives up after waiting, and the event waits in the outbox).
        $login = self::unique();
        $id = self::site('shop', 'signup', ['login' => $login, 'email' => "$login@example.org"])['id'];
        $this->assertNull(Usersync_Links::uid_of($id));
        $this->assertSame(1, Usersync_Outbox::unrouted());
        Usersync_Outbox::release_routing();
        Usersync_Outbox::deliver();
        $this->assertNotNull(Usersync_Links::uid_of($id));
        $this->assertSame(0, Usersync_Outbox::unrouted());
    }
}
