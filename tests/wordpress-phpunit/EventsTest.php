<?php
// Usersync_Events: which WordPress user changes make which usersync events (docs/protocol.md §9),
// coalesced per user and request, and how events queued without the library are sorted later.
declare(strict_types=1);

final class EventsTest extends UsersyncTestCase
{
    /** This request's events about one account. */
    private static function eventsOf(int $user_id, ?array $events = null): array
    {
        $events ??= Usersync_Events::take();
        return array_values(array_filter($events, static fn($e) => ($e['user_id'] ?? null) === $user_id));
    }

    /** The hash WordPress stored, read from the table itself. */
    private static function storedHash(int $user_id): string
    {
        global $wpdb;
        return (string) $wpdb->get_var($wpdb->prepare("SELECT user_pass FROM $wpdb->users WHERE ID = %d", $user_id));
    }

    public function testASignUpIsOneCreateCarryingTheAccountAsWordPressStoredIt(): void
    {
        global $wpdb;
        $user = $this->newUser(['first_name' => 'Ada', 'last_name' => 'Lovelace', 'description' => "two\nlines", 'role' => 'editor'], true);
        update_user_meta($user->ID, 'billing_city', 'Lyon');
        add_user_meta($user->ID, 'billing_phone', '+33 1');
        $user->add_role('subscriber');

        $events = self::eventsOf($user->ID);
        $this->assertCount(1, $events, 'the sign-up, its role and meta leave as one event');
        $this->assertSame('create', $events[0]['act']);
        $data = $events[0]['data'];
        $this->assertSame($user->user_login, $data['login']);
        $this->assertSame($user->user_email, $data['email']);
        $this->assertEqualsCanonicalizing(['editor', 'subscriber'], $data['roles']);
        $this->assertSame('Ada', $data['fields']['first_name']);
        $this->assertSame('Lovelace', $data['fields']['last_name']);
        $this->assertSame("two\nlines", $data['fields']['description']);
        $this->assertSame('Ada Lovelace', $data['fields']['display_name'], 'WordPress names a new account "first last"');
        $this->assertSame(self::storedHash($user->ID), $data['pass_hash']);
        $this->assertStringStartsWith('$wp$2y$', $data['pass_hash'], "WordPress 6.8's bcrypt hash");
        $meta = (array) $data['meta'];
        $this->assertSame(['Lyon'], $meta['billing_city']);
        $this->assertSame(['+33 1'], $meta['billing_phone']);
        // Privileges never travel as meta; profile fields travel in `fields`.
        foreach ([$wpdb->prefix . 'capabilities', $wpdb->prefix . 'user_level', 'first_name', 'description', 'session_tokens'] as $key) {
            $this->assertArrayNotHasKey($key, $meta);
        }
        $this->assertArrayNotHasKey('uid', $data, 'the uid is given when the outbox routes the event');
    }

    public function testAProfileChangeIsAnUpdateWithTheNewState(): void
    {
        $user = $this->newUser();
        wp_update_user(['ID' => $user->ID, 'display_name' => 'Grace H.', 'user_email' => 'grace.' . $user->user_email]);
        $events = self::eventsOf($user->ID);
        $this->assertSame(['update'], array_column($events, 'act'));
        $this->assertSame('Grace H.', $events[0]['data']['fields']['display_name']);
        $this->assertSame('grace.' . $user->user_email, $events[0]['data']['email']);
    }

    public function testARoleChangeIsAnUpdate(): void
    {
        $user = $this->newUser();
        $user->set_role('editor');
        $events = self::eventsOf($user->ID);
        $this->assertSame(['update'], array_column($events, 'act'));
        $this->assertSame(['editor'], $events[0]['data']['roles']);
    }

    public function testAProfileFieldKeptInUserMetaIsAnUpdate(): void
    {
        $user = $this->newUser();
        update_user_meta($user->ID, 'nickname', 'Hopper'); // WordPress keeps nickname in user meta
        $events = self::eventsOf($user->ID);
        $this->assertSame(['update'], array_column($events, 'act'));
        $this->assertSame('Hopper', $events[0]['data']['fields']['nickname']);
    }

    public function testAPasswordChangeCarriesTheStoredHashAndNeverThePassword(): void
    {
        $user = $this->newUser();
        wp_set_password('a new password 9', $user->ID);
        $events = Usersync_Events::take();
        $mine = self::eventsOf($user->ID, $events);
        $this->assertSame(['password'], array_column($mine, 'act'));
        $this->assertEqualsCanonicalizing(['login', 'pass_hash'], array_keys($mine[0]['data']));
        $this->assertSame(self::storedHash($user->ID), $mine[0]['data']['pass_hash']);
        $this->assertTrue(wp_check_password('a new password 9', $mine[0]['data']['pass_hash'], $user->ID));
        $this->assertStringNotContainsString('a new password 9', json_encode($events));
    }

    public function testMetaSetAndDeletedTravelAsOneMetaEvent(): void
    {
        $user = $this->newUser();
        update_user_meta($user->ID, 'billing_zip', '69001');
        update_user_meta($user->ID, 'billing_state', 'Rhone');
        Usersync_Events::take();

        update_user_meta($user->ID, 'billing_city', 'Paris');
        delete_user_meta($user->ID, 'billing_zip');
        update_user_meta($user->ID, 'billing_note', 'first');
        delete_user_meta($user->ID, 'billing_note');          // set, then deleted: a delete
        delete_user_meta($user->ID, 'billing_state');
        update_user_meta($user->ID, 'billing_state', 'Ain');  // deleted, then set: a set
        $events = self::eventsOf($user->ID);
        $this->assertSame(['meta'], array_column($events, 'act'));
        $this->assertEquals(['billing_city' => ['Paris'], 'billing_state' => ['Ain']], $events[0]['data']['set']);
        $this->assertEqualsCanonicalizing(['billing_zip', 'billing_note'], $events[0]['data']['delete']);
        $this->assertSame($user->user_login, $events[0]['data']['login']);
    }

    public function testMetaWithSeveralValuesTravelsAsAllOfThem(): void
    {
        $user = $this->newUser();
        add_user_meta($user->ID, 'billing_tag', 'a');
        add_user_meta($user->ID, 'billing_tag', 'b');
        $events = self::eventsOf($user->ID);
        $this->assertSame(['a', 'b'], $events[0]['data']['set']['billing_tag']);
    }

    public function testSerializedMetaValuesAreNeverSent(): void
    {
        $user = $this->newUser();
        update_user_meta($user->ID, 'billing_prefs', ['post' => true]);
        $events = self::eventsOf($user->ID);
        $this->assertStringNotContainsString('billing_prefs', json_encode($events));
    }

    public function testProtectedMetaAndSessionsMakeNoEvent(): void
    {
        global $wpdb;
        $user = $this->newUser();
        WP_Session_Tokens::get_instance($user->ID)->create(time() + 3600); // a login's session_tokens
        update_user_meta($user->ID, $wpdb->prefix . 'user_level', '10');
        update_user_meta($user->ID, 'usersync_note', 'ours');
        update_user_meta($user->ID, '_usersync_note', 'ours');
        update_user_meta($user->ID, 'dismissed_wp_pointers', 'wp496_privacy');
        $this->assertSame([], self::eventsOf($user->ID));
    }

    public function testChangesMadeWhileApplyingAPeersActionAreNotSentBack(): void
    {
        $user = $this->newUser();
        $result = Usersync_Events::applying(static function () use ($user) {
            wp_update_user(['ID' => $user->ID, 'display_name' => 'From a peer']);
            update_user_meta($user->ID, 'billing_city', 'Nice');
            wp_set_password('from a peer 1', $user->ID);
            return 'applied';
        });
        $this->assertSame('applied', $result);
        $this->assertSame([], self::eventsOf($user->ID));
        update_user_meta($user->ID, 'billing_city', 'Metz');
        $this->assertSame(['meta'], array_column(self::eventsOf($user->ID), 'act'), 'events are collected again afterwards');
    }

    public function testAnExceptionWhileApplyingStillSwitchesEventsBackOn(): void
    {
        $user = $this->newUser();
        try {
            Usersync_Events::applying(static fn() => throw new RuntimeException('refused'));
        } catch (RuntimeException $e) {
        }
        update_user_meta($user->ID, 'billing_city', 'Metz');
        $this->assertSame(['meta'], array_column(self::eventsOf($user->ID), 'act'));
    }

    public function testDeletingALinkedAccountIsADeleteNamingItsUidAndHeir(): void
    {
        [$gone, $uid] = $this->linkedUser();
        [$heir] = $this->linkedUser();
        wp_delete_user($gone->ID, $heir->ID);
        $events = Usersync_Events::take();
        $this->assertSame([], self::eventsOf($gone->ID, $events));
        $deletes = array_values(array_filter($events, static fn($e) => 'delete' === $e['act']));
        $this->assertCount(1, $deletes);
        $this->assertSame(['uid' => $uid, 'login' => $gone->user_login, 'reassign' => $heir->user_login], $deletes[0]['data']);
        $this->assertNull(Usersync_Links::uid_of($gone->ID), 'the link goes with the account');
    }

    public function testDeletingAnAccountWithoutHeirNamesNone(): void
    {
        [$gone, $uid] = $this->linkedUser();
        wp_delete_user($gone->ID);
        $deletes = array_values(array_filter(Usersync_Events::take(), static fn($e) => 'delete' === $e['act']));
        $this->assertSame([['act' => 'delete', 'data' => ['uid' => $uid, 'login' => $gone->user_login]]], $deletes);
    }

    public function testDeletingAnUnlinkedAccountSendsNothing(): void
    {
        $user = $this->newUser();
        update_user_meta($user->ID, 'billing_city', 'Lille');
        wp_delete_user($user->ID);
        $this->assertSame([], Usersync_Events::take(), 'accounts peers do not know are not synced');
    }

    public function testAddedEventsLeaveWithTheRequestsEventsOnce(): void
    {
        [$user, $uid] = $this->linkedUser();
        $logout = ['act' => 'logout', 'data' => ['uid' => $uid, 'login' => $user->user_login]];
        Usersync_Events::add($logout);
        update_user_meta($user->ID, 'billing_city', 'Brest');
        $events = Usersync_Events::take();
        $this->assertContains($logout, $events);
        $this->assertSame(['meta'], array_column(self::eventsOf($user->ID, $events), 'act'));
        $this->assertSame([], Usersync_Events::take(), 'take() empties the request');
    }

    public function testFlushQueuesTheRequestsEventsInTheOutbox(): void
    {
        $user = $this->newUser([], true);
        update_user_meta($user->ID, 'billing_city', 'Caen');
        $other = $this->newUser([], true);
        $before = Usersync_Outbox::unrouted();
        Usersync_Events::flush();
        $this->assertSame($before + 2, Usersync_Outbox::unrouted(), 'one row per event, not yet routed');
        $this->assertSame([], Usersync_Events::take());
        $rows = self::rows(Usersync_Schema::tables()['outbox']);
        $this->assertEqualsCanonicalizing([$user->user_login, $other->user_login], array_column($rows, 'login'));
        $this->assertSame(['create', 'create'], array_column($rows, 'act'));
    }

    public function testTheEventFilterCanDropOrChangeAnEvent(): void
    {
        $user = $this->newUser();
        $event = ['act' => 'meta', 'data' => ['login' => $user->user_login, 'set' => ['billing_city' => ['Dijon']]]];
        $seen = [];
        $filter = static function ($e, $user_id) use (&$seen) {
            $seen[] = [$e, $user_id];
            return 'Dijon' === ($e['data']['set']['billing_city'][0] ?? '') ? false : $e;
        };
        add_filter('usersync_event', $filter, 10, 2);
        try {
            $this->assertNull(Usersync_Events::sorted($event, $user->ID));
            $this->assertSame([[$event, $user->ID]], $seen);
            $kept = $event;
            $kept['data']['set']['billing_city'] = ['Tours'];
            $this->assertSame($kept, Usersync_Events::sorted($kept, $user->ID));
        } finally {
            remove_filter('usersync_event', $filter, 10);
        }
        $change = static function ($e) {
            $e['data']['set']['billing_city'] = ['Changed'];
            return $e;
        };
        add_filter('usersync_event', $change);
        try {
            $this->assertSame(['Changed'], Usersync_Events::sorted($event, $user->ID)['data']['set']['billing_city']);
        } finally {
            remove_filter('usersync_event', $change);
        }
    }

    public function testEventsQueuedWithoutTheLibraryAreSortedFromTheAccountWhenRouted(): void
    {
        $login = self::unique();
        $id = self::site('nolib', 'signup', ['login' => $login, 'email' => "$login@example.org", 'first_name' => 'Ada',
            'meta' => ['billing_city' => 'Lyon']])['id'];
        $rows = self::rows(Usersync_Schema::tables()['outbox']);
        $this->assertSame(['create'], array_column($rows, 'act'), 'queued as it happened, though the library could not load');
        $this->assertSame('', $rows[0]['peer']);

        $sorted = Usersync_Events::sorted(json_decode($rows[0]['event'], true), $id);
        $this->assertSame('create', $sorted['act']);
        $this->assertArrayNotHasKey('unsorted', $sorted);
        $this->assertSame("$login@example.org", $sorted['data']['email']);
        $this->assertSame('Ada', $sorted['data']['fields']['first_name']);
        $this->assertSame(['subscriber'], $sorted['data']['roles']);
        $this->assertSame(['Lyon'], ((array) $sorted['data']['meta'])['billing_city']);
        $this->assertSame(self::storedHash($id), $sorted['data']['pass_hash']);
    }

    public function testMetaQueuedWithoutTheLibraryKeepsOnlyTheKeysThatTravelAsMeta(): void
    {
        [$user] = $this->linkedUser();
        foreach (['billing_zip' => '1000', 'usersync_note' => 'ours', 'usersync_other' => 'ours', 'billing_state' => 'Vaud'] as $key => $value) {
            update_user_meta($user->ID, $key, $value);
        }
        Usersync_Events::take();
        self::site('nolib', 'meta', ['id' => $user->ID, 'delete' => ['billing_zip', 'usersync_note', 'last_name']]);
        $meta = array_values(array_filter(self::rows(Usersync_Schema::tables()['outbox']), static fn($r) => 'meta' === $r['act']));
        $this->assertCount(1, $meta);
        $sorted = Usersync_Events::sorted(json_decode($meta[0]['event'], true), $user->ID);
        // docs/protocol.md §10: usersync's own keys never leave; last_name is a profile field.
        $this->assertSame(['act' => 'meta', 'data' => ['login' => $user->user_login, 'delete' => ['billing_zip']]], $sorted);

        self::site('nolib', 'meta', ['id' => $user->ID, 'delete' => ['usersync_other']]);
        $protected = array_values(array_filter(self::rows(Usersync_Schema::tables()['outbox']), static fn($r) => 'meta' === $r['act']));
        $this->assertNull(Usersync_Events::sorted(json_decode(end($protected)['event'], true), $user->ID), 'nothing left to send');
    }
}
