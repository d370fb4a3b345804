<?php
// Usersync_Settings: the library's configuration from wp-config.php's constants, and why
// usersync cannot work, in plain words.
declare(strict_types=1);

final class SettingsTest extends UsersyncTestCase
{
    public function testTheConfigurationComesFromTheConstants(): void
    {
        $config = Usersync_Settings::config();
        $this->assertSame('shop.test', $config['site_id']);
        $this->assertSame('http://shop.test', $config['url'], 'the site URL without a trailing slash');
        $this->assertSame(30, $config['clock_skew'], 'USERSYNC_CLOCK_SKEW');
        $this->assertSame(['blog.test', 'news.test', 'down.test'], array_column($config['peers'], 'id'));
        $this->assertSame(USERSYNC_PEERS[0]['secrets'], $config['peers'][0]['secrets']);
        $this->assertSame(USERSYNC_PEERS[1]['send'], $config['peers'][1]['send']);
        $this->assertSame(USERSYNC_PEERS[0]['ip_allow'], $config['peers'][0]['ip_allow']);
    }

    public function testThePluginsOwnPeerSettingsAreNotHandedToTheLibrary(): void
    {
        $config = Usersync_Settings::config();
        foreach ($config['peers'] as $peer) {
            $this->assertArrayNotHasKey('deliver_to', $peer);
        }
        // docs/protocol.md §13: the library refuses unknown settings, so this matters.
        new Usersync\Context($config);
        $config['peers'][0]['deliver_to'] = 'http://127.0.0.1:1';
        $this->expectException(Usersync\ConfigException::class);
        new Usersync\Context($config);
    }

    public function testAConfiguredSiteHasAContextAndNoProblem(): void
    {
        $this->assertInstanceOf(Usersync\Context::class, Usersync_Settings::context());
        $this->assertNull(Usersync_Settings::problem());
        $this->assertSame(['blog.test', 'news.test', 'down.test'], array_column(Usersync_Settings::context()->peers(), 'id'));
    }

    public function testPeersAreFoundById(): void
    {
        $this->assertSame('http://news.test', Usersync_Settings::peer('news.test')['url']);
        $this->assertNull(Usersync_Settings::peer('nobody.test'));
        $this->assertNull(Usersync_Settings::peer(''));
    }

    public function testTheInboxIsUnderDeliverToOrTheUrl(): void
    {
        $stub = self::links()['stub_url'];
        $this->assertSame("$stub/blog/?rest_route=/usersync/v1/inbox", Usersync_Settings::inbox_url(Usersync_Settings::peer('blog.test')));
        $this->assertSame(self::links()['down_url'] . '/?rest_route=/usersync/v1/inbox', Usersync_Settings::inbox_url(Usersync_Settings::peer('down.test')));
        $this->assertSame('https://x.test/wp/?rest_route=/usersync/v1/inbox', Usersync_Settings::inbox_url(['url' => 'https://x.test/wp/']));
    }

    public function testOriginsAreComparedAsBrowsersDo(): void
    {
        $this->assertSame('https://blog.test:8443', Usersync_Settings::origin('HTTPS://Blog.Test:8443/wp-login.php?x=1'));
        $this->assertSame('http://blog.test', Usersync_Settings::origin('http://blog.test'));
        $this->assertSame('', Usersync_Settings::origin('/relative/path'));
        $this->assertSame('', Usersync_Settings::origin('not a url'));
    }

    public function testWithoutASiteIdTheProblemSaysWhatToDefine(): void
    {
        $answer = self::site('unconfigured', 'problem');
        $this->assertFalse($answer['context']);
        $this->assertStringContainsString('USERSYNC_SITE_ID', $answer['problem']);
        $this->assertStringContainsString('wp-config.php', $answer['problem']);
    }

    public function testWithoutTheLibraryTheProblemNamesTheFileAndTheFix(): void
    {
        $answer = self::site('nolib', 'problem');
        $this->assertFalse($answer['context']);
        $this->assertStringContainsString('/nonexistent/usersync-test/libusersync.so', $answer['problem']);
        $this->assertStringContainsString('USERSYNC_LIBRARY', $answer['problem']);
    }

    public function testWithFfiOffTheProblemSaysHowToTurnItOn(): void
    {
        $answer = self::site('shop', 'problem', [], ['-d', 'ffi.enable=0']);
        $this->assertFalse($answer['context']);
        $this->assertStringContainsString('ffi.enable', $answer['problem']);
    }
}
