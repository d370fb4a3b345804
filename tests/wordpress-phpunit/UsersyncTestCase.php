<?php
// What every test here shares: fresh users of its own, the peers' side of each link (a
// library context for blog.test and news.test with the same secrets), the stub peer inbox,
// and the other site processes (site.php).
declare(strict_types=1);

use PHPUnit\Framework\TestCase;

abstract class UsersyncTestCase extends TestCase
{
    private static int $serial = 0;
    private static array $peers = [];

    /** @var array[] the mails WordPress tried to send during the test (wp_mail's arguments) */
    protected array $mails = [];

    protected function setUp(): void
    {
        global $wpdb;
        // Each test starts with an empty outbox, replay record and log, and no pending events.
        foreach (['outbox', 'seen', 'log'] as $role) {
            $wpdb->query('DELETE FROM ' . Usersync_Schema::tables()[$role]);
        }
        Usersync_Events::take();
        foreach (glob(self::stubDir() . '/*') as $file) {
            unlink($file);
        }
        $this->mails = [];
        // Before the site's no-mail plugin (priority 10) answers "sent".
        add_filter('pre_wp_mail', [$this, 'recordMail'], 1, 2);
        $_SERVER['REMOTE_ADDR'] = '127.0.0.1';
    }

    protected function tearDown(): void
    {
        remove_filter('pre_wp_mail', [$this, 'recordMail'], 1);
        Usersync_Events::take();
        Usersync_Outbox::release_routing();
    }

    public function recordMail($short_circuit, array $atts)
    {
        $this->mails[] = $atts;
        return $short_circuit;
    }

    protected static function links(): array
    {
        return json_decode((string) file_get_contents(USERSYNC_TEST_WORK_DIR . '/links.json'), true);
    }

    protected static function stubDir(): string
    {
        return self::links()['stub_dir'];
    }

    /** A login and email no other test uses. */
    protected static function unique(string $what = 'u'): string
    {
        return sprintf('%s%d_%d_%s', $what, getmypid(), ++self::$serial, bin2hex(random_bytes(3)));
    }

    /** A new local account (its events are discarded unless $keepEvents). */
    protected function newUser(array $userdata = [], bool $keepEvents = false): WP_User
    {
        $login = self::unique();
        $id = wp_insert_user($userdata + ['user_login' => $login, 'user_email' => "$login@example.org",
            'user_pass' => 'pw-' . $login, 'role' => 'subscriber']);
        $this->assertIsInt($id, is_wp_error($id) ? $id->get_error_message() : '');
        if (!$keepEvents) {
            Usersync_Events::take();
        }
        return get_user_by('id', $id);
    }

    /** A local account linked to a fresh uid, as one created after the link is. */
    protected function linkedUser(array $userdata = []): array
    {
        $user = $this->newUser($userdata);
        return [$user, Usersync_Links::mint($user->ID)];
    }

    /**
     * The other end of a link: blog.test or news.test's own library context, with the secret
     * shop.test has for it, sending and accepting everything (this site's policy decides).
     */
    protected static function peer(string $id): Usersync\Context
    {
        if (!isset(self::$peers[$id])) {
            $all = ['actions' => ['create', 'update', 'delete', 'password', 'meta', 'logout', 'login'], 'roles' => ['*'], 'meta' => ['*']];
            self::$peers[$id] = new Usersync\Context([
                'site_id' => $id,
                'url' => "http://$id",
                'peers' => [[
                    'id' => 'shop.test',
                    'url' => 'http://shop.test',
                    'secrets' => [self::links()['secrets']['blog.test' === $id ? 'shop-blog' : 'shop-news']],
                    'send' => $all,
                    'accept' => $all + ['allow_privileged' => true],
                ]],
            ]);
        }
        return self::$peers[$id];
    }

    /** A peer's event, sealed for shop.test as its outbox would (a fresh eid unless given). */
    protected static function seal(string $from, string $act, array $data, ?string $eid = null): string
    {
        $built = self::peer($from)->build(['eid' => $eid ?? Usersync\Secret::uid(), 'act' => $act, 'data' => $data], 'shop.test');
        self::assertCount(1, $built, "$from sends $act to shop.test");
        return $built[0]['message'];
    }

    /**
     * A message a peer seals itself, claims as docs/protocol.md §8 lays them out (a peer that
     * does not run usersync's library, or a compromised one, can send anything it can seal).
     */
    protected static function forge(string $from, string $act, array $data, array $claims = []): string
    {
        $secret = self::links()['secrets']['blog.test' === $from ? 'shop-blog' : 'shop-news'];
        $now = time();
        $claims += ['v' => 1, 'typ' => 'action', 'iss' => $from, 'aud' => 'shop.test', 'iat' => $now, 'exp' => $now + 120,
            'jti' => Usersync\Secret::uid(), 'eid' => Usersync\Secret::uid(), 'act' => $act, 'data' => $data];
        ksort($claims);
        $aad = "usersync/v1|{$claims['typ']}|$from|shop.test";
        return (new Usersync\Keyring([$secret]))->seal($aad, json_encode($claims, JSON_UNESCAPED_SLASHES));
    }

    /** A peer's event as shop.test's library opens it (what the inbox hands to the target check). */
    protected static function opened(string $from, string $act, array $data): array
    {
        return Usersync_Settings::context()->openAction(self::seal($from, $act, $data), '127.0.0.1');
    }

    /** POSTs a body to this site's inbox from $remote: [HTTP status, answer]. */
    protected static function receive(string $body, string $remote = '127.0.0.1'): array
    {
        $_SERVER['REMOTE_ADDR'] = $remote;
        $request = new WP_REST_Request('POST', '/usersync/v1/inbox');
        $request->set_header('Content-Type', 'text/plain');
        $request->set_body($body);
        $response = Usersync_Inbox::receive($request);
        return [$response->get_status(), $response->get_data()];
    }

    /** The next answer the stub gives to deliveries for $peer ('blog', 'news', 'other-blog'). */
    protected static function stubAnswers(string $peer, int $status, $body): void
    {
        file_put_contents(self::stubDir() . "/$peer.answer", json_encode(['status' => $status, 'body' => $body]));
    }

    /** The requests the stub received for $peer, oldest first. */
    protected static function stubReceived(string $peer): array
    {
        $file = self::stubDir() . "/$peer.received";
        if (!is_file($file)) {
            return [];
        }
        return array_map(static fn($line) => json_decode($line, true), file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES));
    }

    /** A stub request's message as the peer's own library opens it. */
    protected static function openAtPeer(string $peer, array $request): array
    {
        return self::peer($peer)->openAction($request['body'], '127.0.0.1');
    }

    /**
     * Runs a command of site.php in another PHP process, as one request to one of the test
     * sites (shop, other, unconfigured, nolib): its JSON result.
     */
    protected static function site(string $variant, string $command, array $args = [], array $php = ['-d', 'ffi.enable=1']): mixed
    {
        // PHP's compiled scripts are kept in the run's folder: a request costs 0.1 s, not 0.4.
        $opcache = ['-d', 'opcache.enable_cli=1', '-d', 'opcache.file_cache=' . USERSYNC_TEST_WORK_DIR . '/opcache', '-d', 'opcache.file_cache_only=1'];
        $cmd = array_merge(['php'], $opcache, $php, [__DIR__ . '/site.php', $command, json_encode($args)]);
        $env = ['USERSYNC_TEST_SITE' => $variant, 'USERSYNC_TEST_WORK' => USERSYNC_TEST_WORK_DIR, 'PATH' => getenv('PATH')];
        $proc = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $status = proc_close($proc);
        self::assertSame(0, $status, "site.php $command on $variant: $err$out");
        return json_decode($out, true, 512, JSON_THROW_ON_ERROR);
    }

    /** Runs $call with wpdb's error log off: for a test that makes a query fail on purpose. */
    protected static function quietly(callable $call): mixed
    {
        global $wpdb;
        $was = $wpdb->suppress_errors(true);
        try {
            return $call();
        } finally {
            $wpdb->suppress_errors($was);
        }
    }

    /** Every row of a table, for "nothing changed" checks. */
    protected static function rows(string $table): array
    {
        global $wpdb;
        return $wpdb->get_results("SELECT * FROM $table", ARRAY_A);
    }

    /** Users, their meta, links and the replay record: what a refused message must leave alone. */
    protected static function state(): array
    {
        global $wpdb;
        $t = Usersync_Schema::tables();
        return [self::rows($wpdb->users), self::rows($wpdb->usermeta), self::rows($t['links']), self::rows($t['seen'])];
    }

    /** The log's rows of this test, oldest first. */
    protected static function log(): array
    {
        return array_reverse(array_map(static fn($row) => (array) $row, Usersync_Log::recent(1000)));
    }
}
