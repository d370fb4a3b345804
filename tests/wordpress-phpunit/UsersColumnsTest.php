<?php
// Usersync_Users_Columns: a peer's create or update writes the users table without asking the
// database for its columns in every delivery, and wpdb still refuses what it refuses without it.
// Each write runs in a fresh PHP process (site.php), as one delivery: wpdb keeps its answers
// for the rest of a process.
declare(strict_types=1);

final class UsersColumnsTest extends UsersyncTestCase
{
    private static function asks(array $run): bool
    {
        global $wpdb;
        return (bool) preg_grep('/^\s*SHOW FULL COLUMNS FROM `?' . preg_quote($wpdb->users, '/') . '`?\s*$/i', $run['queries']);
    }

    private static function update(WP_User $user, string $name, array $more = []): array
    {
        return self::site('shop', 'update_user', ['id' => $user->ID, 'display_name' => base64_encode($name)] + $more);
    }

    public function testAnUpdateWritesTheRowWithoutAskingForTheColumns(): void
    {
        $user = $this->newUser();
        $plain = self::update($user, 'plain', ['plain' => true]);
        $this->assertTrue(self::asks($plain), 'WordPress alone asks for the columns before it writes');
        self::update($user, 'first'); // keeps the answers, if not kept yet
        $run = self::update($user, 'Ada L.');
        $this->assertSame($user->ID, $run['result']);
        $this->assertSame('Ada L.', base64_decode($run['stored']));
        $this->assertFalse(self::asks($run), 'the kept answers were used');
        $this->assertSame(['user_login', 'display_name'], array_values(array_intersect(['user_login', 'display_name'], array_keys($run['kept']['columns']))));
    }

    public function testWhatWordPressRefusesOrChangesIsRefusedOrChangedTheSame(): void
    {
        $user = $this->newUser(['display_name' => 'before']);
        self::update($user, 'before');
        $stored = [];
        $names = [
            'fits exactly' => str_repeat('x', 250),
            'one character too long' => str_repeat('x', 251),
            'fits in characters, not in bytes' => str_repeat('é', 200),
            'four-byte characters' => "Zoë \u{1F680}",
            'not UTF-8' => "bad \xC3\x28 bytes",
        ];
        foreach ($names as $what => $name) {
            self::update($user, 'before', ['plain' => true]);
            $plain = self::update($user, $name, ['plain' => true]);
            self::update($user, 'before', ['plain' => true]);
            $run = self::update($user, $name);
            $this->assertSame([$plain['result'], $plain['stored']], [$run['result'], $run['stored']], $what);
            $stored[$what] = base64_decode($run['stored']);
        }
        $this->assertSame(["Zoë \u{1F680}", str_repeat('é', 200)], [$stored['four-byte characters'], $stored['fits in characters, not in bytes']], 'stored as sent');
        // What fitted was written with the kept answers, what did not by wpdb's own checks (it
        // asked), which refused it: wp_update_user() does not say so, the row stays as it was.
        $this->assertFalse(self::asks(self::update($user, str_repeat('x', 250))));
        $run = self::update($user, str_repeat('y', 251));
        $this->assertTrue(self::asks($run));
        $this->assertSame(str_repeat('x', 250), base64_decode($run['stored']), 'the test can fail: WordPress refuses it');
    }

    public function testTheAnswersAreAskedAgainWhenWordPressUpgradesItsTables(): void
    {
        $user = $this->newUser();
        $version = (string) get_option('db_version');
        self::update($user, 'kept');
        try {
            $run = self::update($user, 'upgraded', ['db_version' => $version . '1']);
            $this->assertTrue(self::asks($run));
            $this->assertStringStartsWith($version . '1|', $run['kept']['key']);
            $this->assertFalse(self::asks(self::update($user, 'again')));
        } finally {
            self::update($user, 'restored', ['db_version' => $version]);
        }
    }
}
