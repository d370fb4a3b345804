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
            $proc = proc_open([PHP_BINARY, '-r', "require '$copy/autoload.php'; try { Usersync\\Library::get(); } catch (Usersync\\LibraryUnavailable \$e) { echo \$e->getMessage(); }"],
                [1 => ['pipe', 'w']], $pipes);
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
            [$code, $out] = self::php(['ffi.enable' => 'preload', 'ffi.preload' => $header],
                '$l = Usersync\Library::get(); echo $l->mode, " ", strlen(Usersync\Secret::generate());');
            $this->assertSame(0, $code, $out);
            $this->assertSame('preload 48', $out);
        } finally {
            unlink($header);
        }
    }
}
