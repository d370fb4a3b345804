<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\Library;
use Usersync\LibraryUnavailable;

/** Finding and loading the library: both modes, and what a site owner is told when it fails. */
final class LibraryTest extends TestCase
{
    /** Runs PHP code in a fresh process with extra ini settings; returns [exit code, output]. */
    private static function php(array $ini, string $code): array
    {
        $args = [PHP_BINARY];
        foreach ($ini as $k => $v) {
            $args[] = '-d';
            $args[] = "$k=$v";
        }
        $args[] = '-r';
        $args[] = 'require ' . var_export(dirname(__DIR__) . '/autoload.php', true) . ';' . $code;
        $proc = proc_open($args, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        return [proc_close($proc), $out];
    }

    public function testLoadsAndReportsItsVersion(): void
    {
        $lib = Library::get();
        $this->assertSame(Library::VERSION, $lib->version);
        $this->assertSame('cdef', $lib->mode);
        $this->assertFileExists($lib->path);
    }

    public function testAnExplicitPathIsNotSilentlyReplaced(): void
    {
        $this->expectException(LibraryUnavailable::class);
        $this->expectExceptionMessage('Tried: /nonexistent/libusersync.so.');
        Library::load('/nonexistent/libusersync.so');
    }

    public function testAMissingLibraryNamesEveryPathTried(): void
    {
        // A copy of the binding outside the repository finds no development build either.
        $copy = sys_get_temp_dir() . '/usersync-binding-' . bin2hex(random_bytes(4));
        mkdir("$copy/src", 0777, true);
        copy(dirname(__DIR__) . '/autoload.php', "$copy/autoload.php");
        foreach (glob(dirname(__DIR__) . '/src/*.php') as $f) {
            copy($f, "$copy/src/" . basename($f));
        }
        try {
            $proc = proc_open(
                [PHP_BINARY, '-r', "require '$copy/autoload.php'; try { Usersync\\Library::get(); } catch (Usersync\\LibraryUnavailable \$e) { echo \$e->getMessage(); }"],
                [1 => ['pipe', 'w']],
                $pipes
            );
            $out = stream_get_contents($pipes[1]);
            proc_close($proc);
            $this->assertStringContainsString('libusersync.so was not found. Tried:', $out);
            $this->assertStringContainsString("$copy/lib/linux-" . php_uname('m') . '/libusersync.so', $out);
            $this->assertStringContainsString('/target/release/libusersync.so', $out);
            $this->assertStringContainsString('Set USERSYNC_LIBRARY', $out);
        } finally {
            array_map('unlink', glob("$copy/src/*.php"));
            unlink("$copy/autoload.php");
            rmdir("$copy/src");
            rmdir($copy);
        }
    }

    public function testAWrongVersionIsRefused(): void
    {
        $this->expectException(LibraryUnavailable::class);
        $this->expectExceptionMessageMatches('/does not match this binding, written for 9\.9\.0/');
        Library::load(Library::get()->path, '9.9.0');
    }

    public function testTheEnvironmentVariableIsHonoured(): void
    {
        putenv('USERSYNC_LIBRARY=/elsewhere/libusersync.so');
        try {
            $this->assertSame('/elsewhere/libusersync.so', Library::candidates()[0]);
        } finally {
            putenv('USERSYNC_LIBRARY');
        }
    }

    public function testDisabledFfiIsExplained(): void
    {
        [$code, $out] = self::php(['ffi.enable' => '0'], 'try { Usersync\Library::get(); } catch (Usersync\LibraryUnavailable $e) { echo $e->getMessage(); exit(3); }');
        $this->assertSame(3, $code, $out);
        $this->assertStringContainsString('ffi.enable=0', $out);
    }

    public function testPreloadModeUsesTheScope(): void
    {
        $header = tempnam(sys_get_temp_dir(), 'usersync-preload');
        exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(dirname(__DIR__) . '/bin/usersync-preload-header') . ' ' . escapeshellarg(Library::get()->path) . ' > ' . escapeshellarg($header), $_, $rc);
        $this->assertSame(0, $rc);
        try {
            [$code, $out] = self::php(
                ['ffi.enable' => 'preload', 'ffi.preload' => $header],
                '$l = Usersync\Library::get(); echo $l->mode, " ", strlen(Usersync\Secret::generate());'
            );
            $this->assertSame(0, $code, $out);
            $this->assertSame('preload 48', $out);
        } finally {
            unlink($header);
        }
    }

    public function testAWrongConfiguredPathFailsLoudly(): void
    {
        // Set but wrong: no other copy (bundled or development build) may load instead.
        $proc = proc_open(
            [PHP_BINARY, '-r', 'require ' . var_export(dirname(__DIR__) . '/autoload.php', true) . ';'
            . 'try { Usersync\Library::get(); echo "loaded"; } catch (Usersync\Exception $e) { echo $e->reason, ": ", $e->getMessage(); }'],
            [1 => ['pipe', 'w']],
            $pipes,
            null,
            ['USERSYNC_LIBRARY' => '/nonexistent/libusersync.so'] + getenv()
        );
        $out = stream_get_contents($pipes[1]);
        proc_close($proc);
        $this->assertStringStartsWith('library_unavailable: libusersync.so was not found. Tried: /nonexistent/libusersync.so.', $out);
        $this->assertStringNotContainsString('target/release', $out);
    }

    public function testLoadIsWhatTheClassesUse(): void
    {
        $copy = sys_get_temp_dir() . '/usersync-lib-' . bin2hex(random_bytes(4));
        mkdir($copy);
        copy(Library::get()->path, "$copy/libusersync.so");
        copy(dirname(__DIR__, 2) . '/include/usersync.h', "$copy/usersync.h");
        try {
            [$code, $out] = self::php([], 'Usersync\Library::load(' . var_export("$copy/libusersync.so", true) . ');'
                . 'echo Usersync\Library::get()->path, " ", strlen(Usersync\Secret::generate());');
            $this->assertSame(0, $code, $out);
            $this->assertSame("$copy/libusersync.so 48", $out);
        } finally {
            unlink("$copy/libusersync.so");
            unlink("$copy/usersync.h");
            rmdir($copy);
        }
    }

    public function testLoadFailuresAreUsersyncExceptions(): void
    {
        try {
            Library::load('/nonexistent/libusersync.so');
            $this->fail('loaded a missing library');
        } catch (\Usersync\Exception $e) {
            $this->assertInstanceOf(LibraryUnavailable::class, $e);
            $this->assertSame('library_unavailable', $e->reason);
            $this->assertSame(0, $e->resultCode);
        }
        $this->assertFileExists(Library::get()->path, 'a failed load leaves the loaded library in place');
    }
}
