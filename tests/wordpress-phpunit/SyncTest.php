<?php
// The initial sync's requests to a peer (Usersync_Sync::ask) are made where delivery and the
// link check make theirs, Usersync_Outbox::post_now: WordPress's HTTP API with its filters and
// settings, not a curl handle of their own.
declare(strict_types=1);

final class SyncTest extends UsersyncTestCase
{
    public function testTheProbeIsAWordPressHttpRequestThatFiltersSeeAndMayStop(): void
    {
        $this->newUser();
        $seen = [];
        $args = static function (array $args, string $url) use (&$seen): array {
            $seen[] = [$url, $args['timeout'], $args['redirection']];
            return $args;
        };
        $stop = static fn() => new WP_Error('e2e_stopped', 'stopped by a pre_http_request filter');
        add_filter('http_request_args', $args, 10, 2);
        add_filter('pre_http_request', $stop);
        try {
            Usersync_Sync::report('blog.test');
            $this->fail('a report was made without the peer\'s answer');
        } catch (RuntimeException $e) {
            $this->assertSame('The peer did not answer the probe: stopped by a pre_http_request filter', $e->getMessage());
        } finally {
            remove_filter('http_request_args', $args, 10);
            remove_filter('pre_http_request', $stop);
        }
        // Delivery's arguments, with time for the peer to apply a whole batch (30 s at least).
        $inbox = Usersync_Settings::inbox_url(Usersync_Settings::peer('blog.test'));
        $this->assertSame([[$inbox, 30, 0]], $seen, 'one request, through http_request_args');
        $this->assertSame([], self::stubReceived('blog'), 'a pre_http_request answer is the answer: nothing was sent');
    }

    public function testAnAnswerThatIsNotTheInboxsIsAPlainError(): void
    {
        $this->newUser();
        self::stubAnswers('blog', 200, ['result' => 'answered', 'answer' => ['not' => 'a message']]);
        try {
            Usersync_Sync::report('blog.test');
            $this->fail('a report was made from a malformed answer');
        } catch (RuntimeException $e) {
            $this->assertSame('The peer did not answer the probe: HTTP 200', $e->getMessage());
        }
        $this->assertSame('probe', self::openAtPeer('blog.test', self::stubReceived('blog')[0])['act'], 'the stub got the sealed probe');
    }
}
