<?php
// Usersync_Apply: a peer's action, opened and checked by the library, applied with WordPress's
// own functions: what WordPress stores afterwards.
declare(strict_types=1);

final class ApplyTest extends UsersyncTestCase
{
    /** Opens a peer's action, asks the target check, applies the verdict: [opened, verdict]. */
    private static function apply(string $from, string $act, array $data): array
    {
        $opened = self::opened($from, $act, $data);
        [$facts, $user] = Usersync_Links::facts($opened);
        $verdict = Usersync_Settings::context()->checkTarget($opened, $facts);
        Usersync_Apply::apply($opened, $verdict, $user);
        return [$opened, $verdict];
    }

    private static function storedHash(int $user_id): string
    {
        global $wpdb;
        return (string) $wpdb->get_var($wpdb->prepare("SELECT user_pass FROM $wpdb->users WHERE ID = %d", $user_id));
    }

    private static function account(string $uid): WP_User
    {
        $user = Usersync_Links::user_of($uid);
        self::assertNotNull($user, "an account linked to $uid");
        clean_user_cache($user->ID);
        return get_user_by('id', $user->ID);
    }

    public function testACreateMakesTheAccountWithWhatThePolicyAccepts(): void
    {
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        $hash = wp_hash_password('correct horse battery');
        [, $verdict] = self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org",
            'fields' => ['first_name' => 'Ada', 'display_name' => 'Ada L.', 'description' => "a\tb"],
            'roles' => ['editor', 'author'], 'meta' => ['billing_city' => ['Lyon'], 'favourite' => ['tea']], 'pass_hash' => $hash]);
        $this->assertSame('create', $verdict['do']);
        $user = self::account($uid);
        $this->assertSame($login, $user->user_login);
        $this->assertSame("$login@example.org", $user->user_email);
        $this->assertSame('Ada', $user->first_name);
        $this->assertSame('Ada L.', $user->display_name);
        $this->assertSame("a\tb", $user->description);
        $this->assertSame(['editor'], array_values($user->roles), 'author is not in the accept policy');
        $this->assertSame(['Lyon'], get_user_meta($user->ID, 'billing_city'));
        $this->assertSame([], get_user_meta($user->ID, 'favourite'), 'meta outside the accept policy');
        $this->assertSame($hash, self::storedHash($user->ID), 'the hash is stored as it came');
        $this->assertTrue(wp_check_password('correct horse battery', self::storedHash($user->ID), $user->ID));
    }

    public function testAnOldPhpassHashIsStoredUnchangedAndStillLogsIn(): void
    {
        require_once ABSPATH . WPINC . '/class-phpass.php';
        $hash = (new PasswordHash(8, true))->HashPassword('from an old site');
        $this->assertStringStartsWith('$P$', $hash);
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org", 'pass_hash' => $hash]);
        $user = self::account($uid);
        $this->assertSame($hash, self::storedHash($user->ID));
        $this->assertInstanceOf(WP_User::class, wp_authenticate($login, 'from an old site'));
    }

    public function testACreateWithoutAHashHasNoPasswordAnyoneCanUse(): void
    {
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org"]);
        $user = self::account($uid);
        $this->assertSame('*', self::storedHash($user->ID), "WordPress's hash of a password longer than 4,096 characters");
        foreach (['', '*', str_repeat('*', 4097)] as $guess) {
            $this->assertFalse(wp_check_password($guess, self::storedHash($user->ID), $user->ID));
        }
    }

    /** A user's meta rows as the database holds them: key => values, in the order they were added. */
    private static function metaRows(int $user_id): array
    {
        global $wpdb;
        $rows = [];
        foreach ($wpdb->get_results($wpdb->prepare("SELECT meta_key, meta_value FROM $wpdb->usermeta WHERE user_id = %d ORDER BY umeta_id", $user_id)) as $row) {
            $rows[$row->meta_key][] = $row->meta_value;
        }
        return $rows;
    }

    /** A user's meta rows by id: umeta_id => [key, value]. */
    private static function metaIds(int $user_id): array
    {
        global $wpdb;
        $rows = [];
        foreach ($wpdb->get_results($wpdb->prepare("SELECT umeta_id, meta_key, meta_value FROM $wpdb->usermeta WHERE user_id = %d", $user_id)) as $row) {
            $rows[(int) $row->umeta_id] = [$row->meta_key, $row->meta_value];
        }
        return $rows;
    }

    /**
     * Runs $make with every meta hook recorded: [what $make returned, the hooks in order as
     * [hook, key, value] (update_user_metadata, add_user_meta, added_user_meta, user_register),
     * the ids added_user_meta was given by key, the INSERTs into the meta table before and
     * after user_register].
     */
    private static function recorded(callable $make): array
    {
        global $wpdb;
        $hooks = [];
        $ids = [];
        $inserts = [0, 0];
        $meta = static function (...$args) use (&$hooks, &$ids) {
            $hook = current_filter();
            [$key, $value] = 'add_user_meta' === $hook ? [$args[1], $args[2]] : [$args[2], $args[3]];
            $hooks[] = [$hook, $key, $value];
            if ('added_user_meta' === $hook) {
                $ids[$key][] = (int) $args[0];
            }
            return 'update_user_metadata' === $hook ? $args[0] : null;
        };
        $registered = false;
        $register = static function () use (&$hooks, &$registered) {
            $hooks[] = ['user_register'];
            $registered = true;
        };
        $query = static function ($sql) use (&$inserts, &$registered, $wpdb) {
            $inserts[(int) $registered] += (int) (0 === stripos($sql, "INSERT INTO `$wpdb->usermeta`") || 0 === stripos($sql, "INSERT INTO $wpdb->usermeta"));
            return $sql;
        };
        foreach (['update_user_metadata', 'add_user_meta', 'added_user_meta'] as $hook) {
            add_filter($hook, $meta, 10, 4);
        }
        add_action('user_register', $register, PHP_INT_MIN);
        add_filter('query', $query);
        try {
            $made = $make();
        } finally {
            foreach (['update_user_metadata', 'add_user_meta', 'added_user_meta'] as $hook) {
                remove_filter($hook, $meta, 10);
            }
            remove_action('user_register', $register, PHP_INT_MIN);
            remove_filter('query', $query);
        }
        return [$made, $hooks, $ids, $inserts];
    }

    public function testACreatesMetaRowsAreThoseWordPressWritesItself(): void
    {
        // The same account made by wp_insert_user() alone and by a peer's create (which writes
        // WordPress's own rows in one INSERT): the same rows, the same hooks in the same order
        // with the same keys and values, added_user_meta with each row's id.
        // A plugin writing one key twice in user_register gets one row, as without usersync.
        $twice = static function ($id) {
            update_user_meta($id, 'plugin_flag', 'first');
            update_user_meta($id, 'plugin_flag', 'second');
            add_user_meta($id, 'plugin_list', 'a');
            update_user_meta($id, 'plugin_list', 'b');
        };
        add_action('user_register', $twice);
        $fields = ['first_name' => 'Grace', 'last_name' => 'H\\opper', 'nickname' => 'amazing', 'description' => 'COBOL'];
        try {
            $login = self::unique();
            [$own, $byWordPress, , $ownInserts] = self::recorded(static fn() => wp_insert_user(wp_slash(['user_login' => $login,
                'user_email' => "$login@example.org", 'user_pass' => 'x', 'role' => 'editor'] + $fields)));
            $uid = Usersync\Secret::uid();
            $peerLogin = self::unique();
            [, $byPeer, $ids, $inserts] = self::recorded(static fn() => self::apply('blog.test', 'create', ['uid' => $uid,
                'login' => $peerLogin, 'email' => "$peerLogin@example.org", 'fields' => $fields, 'roles' => ['editor']]));
        } finally {
            remove_action('user_register', $twice);
        }
        $account = self::account($uid);
        $theirs = self::metaRows($account->ID);
        $this->assertSame(self::metaRows($own), $theirs);
        $this->assertSame(['second'], $theirs['plugin_flag']);
        $this->assertSame(['b'], $theirs['plugin_list']);
        $this->assertSame('H\\opper', $account->last_name);
        // set_role()'s update_user_meta() calls come before the rows are written: compared apart.
        $updates = static fn(array $hooks) => array_values(array_filter($hooks, static fn($h) => 'update_user_metadata' === $h[0]));
        $others = static fn(array $hooks) => array_values(array_filter($hooks, static fn($h) => 'update_user_metadata' !== $h[0]));
        $this->assertSame($others($byWordPress), $others($byPeer), 'add_user_meta, added_user_meta and user_register in order, the same keys and values');
        $this->assertSame($updates($byWordPress), $updates($byPeer));
        $this->assertGreaterThan(10, count(array_filter($byPeer, static fn($h) => 'added_user_meta' === $h[0])));
        foreach (self::metaIds($account->ID) as $id => [$key]) {
            $this->assertContains($id, $ids[$key] ?? [], "added_user_meta was given the id of the $key row");
        }
        // WordPress's own thirteen rows in one INSERT; the rows of user_register's callbacks
        // (the plugin's, and WordPress's own admin pointers once wp-admin is loaded) as before.
        $this->assertGreaterThanOrEqual(13, $ownInserts[0]);
        $this->assertSame([1, $ownInserts[1]], $inserts);
    }

    public function testAPluginReadingTheMetaTableWhileTheAccountIsMadeFindsItsRows(): void
    {
        // Rows wait for one INSERT; a query of the meta table (here in set_user_role) writes them
        // first: it finds what it finds when WordPress makes the account itself.
        global $wpdb;
        $seen = [];
        $look = static function ($user_id) use (&$seen, $wpdb) {
            $seen[] = $wpdb->get_col($wpdb->prepare("SELECT meta_key FROM $wpdb->usermeta WHERE user_id = %d ORDER BY umeta_id", $user_id));
        };
        add_action('set_user_role', $look);
        try {
            $login = self::unique();
            wp_insert_user(['user_login' => $login, 'user_email' => "$login@example.org", 'user_pass' => 'x', 'role' => 'editor']);
            $uid = Usersync\Secret::uid();
            $login = self::unique();
            self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org", 'roles' => ['editor']]);
        } finally {
            remove_action('set_user_role', $look);
        }
        $this->assertCount(2, $seen);
        $this->assertContains($wpdb->prefix . 'capabilities', $seen[1]);
        $this->assertSame($seen[0], $seen[1]);
    }

    public function testAnAccountAUserRegisterCallbackMakesGetsItsOwnRows(): void
    {
        // A plugin making a second account in user_register: each account has WordPress's rows.
        $second = 0;
        $make = static function () use (&$second) {
            if (!$second) {
                $login = self::unique();
                $second = -1;
                $second = wp_insert_user(['user_login' => $login, 'user_email' => "$login@example.org", 'user_pass' => 'x', 'role' => 'author']);
            }
        };
        add_action('user_register', $make);
        try {
            $uid = Usersync\Secret::uid();
            $login = self::unique();
            self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org", 'roles' => ['editor']]);
        } finally {
            remove_action('user_register', $make);
        }
        $this->assertIsInt($second);
        $login = self::unique();
        $reference = self::metaRows(wp_insert_user(['user_login' => $login, 'user_email' => "$login@example.org", 'user_pass' => 'x', 'role' => 'author']));
        $made = self::metaRows($second);
        $this->assertSame(array_keys($reference), array_keys($made));
        $this->assertSame(['author'], array_values(get_userdata($second)->roles));
        $account = self::account($uid);
        $this->assertSame(['editor'], array_values($account->roles));
        $this->assertSame(array_keys($reference), array_keys(self::metaRows($account->ID)));
    }

    public function testTheUserCountIsUpdatedAfterTheAnswer(): void
    {
        // Core counts users after user_register; a peer's create leaves that to shutdown.
        wp_update_user_counts();
        $before = get_user_count();
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org"]);
        $this->assertSame($before, get_user_count(), 'not counted while the change is applied');
        $this->assertSame(10, has_action('shutdown', 'wp_maybe_update_user_counts'));
        $this->assertSame(10, has_action('user_register', 'wp_maybe_update_user_counts'), "core's hook is back");
        wp_maybe_update_user_counts();
        $this->assertSame($before + 1, get_user_count());
        remove_action('shutdown', 'wp_maybe_update_user_counts');
    }

    public function testACreateWithoutRolesGetsTheDefaultRoleOnlyWhereThePeerMayGrantIt(): void
    {
        $this->assertSame('subscriber', get_option('default_role'), "a fresh WordPress's default role");
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org"]);
        $this->assertSame(['subscriber'], array_values(self::account($uid)->roles), 'blog.test may grant subscriber');

        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('news.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org"]);
        $this->assertSame([], array_values(self::account($uid)->roles), 'news.test may grant editor only');
    }

    public function testAnUpdateChangesTheAccountWithoutMailingItsOwner(): void
    {
        [$user, $uid] = $this->linkedUser(['role' => 'editor', 'first_name' => 'Old']);
        $email = 'new.' . $user->user_email;
        [, $verdict] = self::apply('blog.test', 'update', ['uid' => $uid, 'login' => $user->user_login, 'email' => $email,
            'fields' => ['first_name' => 'New', 'last_name' => ''], 'roles' => ['subscriber'], 'meta' => ['billing_tag' => ['a', 'b']]]);
        $this->assertSame('apply', $verdict['do']);
        $after = self::account($uid);
        $this->assertSame($user->ID, $after->ID);
        $this->assertSame($email, $after->user_email);
        $this->assertSame('New', $after->first_name);
        $this->assertSame(['subscriber'], array_values($after->roles));
        $this->assertSame(['a', 'b'], get_user_meta($user->ID, 'billing_tag'));
        $this->assertSame([], $this->mails, 'a synced change is not the user changing their email here');

        // The mail filters are gone afterwards: the user's own change here is mailed, as WordPress does.
        $this->assertFalse(has_filter('send_email_change_email', '__return_false'));
        $this->assertFalse(has_filter('send_password_change_email', '__return_false'));
        wp_update_user(['ID' => $user->ID, 'user_email' => 'own.' . $user->user_email]);
        $this->assertCount(1, $this->mails);
        $this->assertSame($email, $this->mails[0]['to'], 'WordPress tells the old address');
    }

    public function testTheMailFiltersAreRemovedWhenApplyingFails(): void
    {
        $taken = $this->newUser();
        [$user, $uid] = $this->linkedUser();
        try {
            self::apply('blog.test', 'update', ['uid' => $uid, 'login' => $user->user_login, 'email' => $taken->user_email]);
            $this->fail('an email of another account was applied');
        } catch (Usersync_Apply_Failed $e) {
            $this->assertSame('existing_user_email', $e->getMessage(), "WordPress's own error code");
        }
        $this->assertSame($user->user_email, self::account($uid)->user_email);
        $this->assertFalse(has_filter('send_email_change_email', '__return_false'));
        $this->assertFalse(has_filter('send_password_change_email', '__return_false'));
    }

    public function testAPasswordIsStoredAsItCameAndEndsTheSessionsAndResetLinks(): void
    {
        [$user, $uid] = $this->linkedUser();
        $sessions = WP_Session_Tokens::get_instance($user->ID);
        $sessions->create(time() + 3600);
        $sessions->create(time() + 3600);
        $reset_key = get_password_reset_key($user);
        $this->assertInstanceOf(WP_User::class, check_password_reset_key($reset_key, $user->user_login));

        $hash = wp_hash_password('changed elsewhere');
        self::apply('blog.test', 'password', ['uid' => $uid, 'login' => $user->user_login, 'pass_hash' => $hash]);
        $this->assertSame($hash, self::storedHash($user->ID));
        $this->assertSame([], WP_Session_Tokens::get_instance($user->ID)->get_all(), 'every session ends');
        $this->assertInstanceOf(WP_Error::class, check_password_reset_key($reset_key, $user->user_login), 'a reset link sent before no longer works');
        $this->assertSame([], $this->mails);
    }

    public function testAnUpdateCarryingTheSameHashKeepsTheSessions(): void
    {
        [$user, $uid] = $this->linkedUser();
        WP_Session_Tokens::get_instance($user->ID)->create(time() + 3600);
        self::apply('blog.test', 'update', ['uid' => $uid, 'login' => $user->user_login, 'email' => $user->user_email,
            'fields' => ['first_name' => 'Same pw'], 'pass_hash' => self::storedHash($user->ID)]);
        $this->assertSame('Same pw', self::account($uid)->first_name);
        $this->assertCount(1, WP_Session_Tokens::get_instance($user->ID)->get_all());
    }

    public function testMetaIsSetAndDeleted(): void
    {
        [$user, $uid] = $this->linkedUser();
        update_user_meta($user->ID, 'billing_zip', '1000');
        update_user_meta($user->ID, 'billing_city', 'Old');
        self::apply('blog.test', 'meta', ['uid' => $uid, 'login' => $user->user_login, 'set' => ['billing_city' => ['Bern']],
            'delete' => ['billing_zip']]);
        $this->assertSame(['Bern'], get_user_meta($user->ID, 'billing_city'));
        $this->assertSame([], get_user_meta($user->ID, 'billing_zip'));
    }

    public function testBackslashesArriveAsSent(): void
    {
        // wp_insert_user() and add_user_meta() unslash what they are given: sent unslashed, a
        // backslash would be lost.
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org",
            'fields' => ['first_name' => 'C:\\temp\\new', 'display_name' => 'back\\slash', 'description' => 'trailing\\'],
            'roles' => ['editor'], 'meta' => ['billing_city' => ['a\\b', '\\\\two']]]);
        $user = self::account($uid);
        $this->assertSame('C:\\temp\\new', $user->first_name);
        $this->assertSame('back\\slash', $user->display_name);
        $this->assertSame('trailing\\', $user->description);
        $this->assertSame(['a\\b', '\\\\two'], get_user_meta($user->ID, 'billing_city'));

        self::apply('blog.test', 'update', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org",
            'fields' => ['last_name' => 'O\\\'Brien'], 'meta' => ['billing_city' => ['x\\y']]]);
        $user = self::account($uid);
        $this->assertSame('O\\\'Brien', $user->last_name);
        $this->assertSame(['x\\y'], get_user_meta($user->ID, 'billing_city'));

        self::apply('blog.test', 'meta', ['uid' => $uid, 'login' => $login, 'set' => ['billing_city' => ['m\\n']], 'delete' => []]);
        $this->assertSame(['m\\n'], get_user_meta($user->ID, 'billing_city'));
    }

    public function testADeleteGivesTheContentToALinkedHeirOnly(): void
    {
        [$gone, $uid] = $this->linkedUser(['role' => 'editor']);
        [$heir] = $this->linkedUser(['role' => 'editor']);
        $post = wp_insert_post(['post_title' => 'kept', 'post_status' => 'publish', 'post_author' => $gone->ID]);
        self::apply('blog.test', 'delete', ['uid' => $uid, 'login' => $gone->user_login, 'reassign' => $heir->user_login]);
        $this->assertFalse(get_userdata($gone->ID));
        $this->assertNull(Usersync_Links::user_of($uid));
        $this->assertSame($heir->ID, (int) get_post($post)->post_author);

        [$gone, $uid] = $this->linkedUser(['role' => 'editor']);
        $unlinked = $this->newUser(['role' => 'editor']);
        $post = wp_insert_post(['post_title' => 'not inherited', 'post_status' => 'publish', 'post_author' => $gone->ID]);
        self::apply('blog.test', 'delete', ['uid' => $uid, 'login' => $gone->user_login, 'reassign' => $unlinked->user_login]);
        $this->assertFalse(get_userdata($gone->ID));
        $this->assertSame('trash', get_post($post)->post_status, 'without a linked heir the content goes, as WordPress deletes it (to the trash)');
        $this->assertNotFalse(get_userdata($unlinked->ID));
    }

    public function testASkipChangesNothing(): void
    {
        $before = self::state();
        [, $verdict] = self::apply('blog.test', 'delete', ['uid' => Usersync\Secret::uid(), 'login' => 'nobody-here']);
        $this->assertSame('skip', $verdict['do']);
        $this->assertSame($before, self::state());
    }

    public function testALogoutEndsTheSessionsTheLibraryNames(): void
    {
        [$user, $uid] = $this->linkedUser();
        $manager = WP_Session_Tokens::get_instance($user->ID);
        $local = $manager->create(time() + 3600);
        $from_blog = $manager->create(time() + 3600);
        $sessions = get_user_meta($user->ID, 'session_tokens', true);
        $sessions[hash('sha256', $from_blog)] += ['usersync_iss' => 'blog.test', 'usersync_sid' => 's-1'];
        update_user_meta($user->ID, 'session_tokens', $sessions);

        [, $verdict] = self::apply('blog.test', 'logout', ['uid' => $uid, 'login' => $user->user_login, 'sid' => 's-1']);
        $this->assertSame([hash('sha256', $from_blog)], $verdict['end_sessions']);
        $this->assertNull($manager->get($from_blog), 'the session that came from blog.test ended');
        $this->assertIsArray($manager->get($local), 'the session started here is kept');
    }

    public function testBeforeApplyCanRefuseAChange(): void
    {
        $calls = [];
        $veto = static function ($opened, $verdict, $user) use (&$calls) {
            $calls[] = [$opened['act'], $verdict['do'], $user];
            throw new Usersync_Apply_Failed('not on this site');
        };
        add_action('usersync_before_apply', $veto, 10, 3);
        $uid = Usersync\Secret::uid();
        $login = self::unique();
        try {
            self::apply('blog.test', 'create', ['uid' => $uid, 'login' => $login, 'email' => "$login@example.org"]);
            $this->fail('the veto was ignored');
        } catch (Usersync_Apply_Failed $e) {
            $this->assertSame('not on this site', $e->getMessage());
        } finally {
            remove_action('usersync_before_apply', $veto, 10);
        }
        $this->assertSame([['create', 'create', null]], $calls);
        $this->assertFalse(get_user_by('login', $login));
        $this->assertNull(Usersync_Links::user_of($uid));
    }
}
