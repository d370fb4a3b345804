<?php

declare(strict_types=1);

namespace Usersync\Tests;

use PHPUnit\Framework\TestCase;
use Usersync\ConfigException;
use Usersync\EnvelopeException;
use Usersync\Keyring;
use Usersync\Secret;

require_once __DIR__ . '/Vectors.php';

final class EnvelopeVectorsTest extends TestCase
{
    private static function ring(array $case): Keyring
    {
        return new Keyring($case['secrets'] ?? [$case['secret']], $case['max_text_len'] ?? 0);
    }

    public function testGenerateVectorsOpenToTheirPlaintext(): void
    {
        foreach (Vectors::cases('envelope-generate.json') as $case) {
            $plain = self::ring($case)->open(hex2bin($case['aad_hex']), $case['envelope']);
            $this->assertSame($case['plaintext_hex'], bin2hex($plain), $case['desc']);
        }
    }

    public function testVerifyVectors(): void
    {
        foreach (Vectors::cases('envelope-verify.json') as $case) {
            $this->assertSame($case['plaintext_hex'], bin2hex(self::ring($case)->open(hex2bin($case['aad_hex']), $case['envelope'])), $case['desc']);
        }
    }

    public function testInvalidVectorsAreRefusedWithTheirReason(): void
    {
        $cases = Vectors::cases('envelope-invalid.json');
        $this->assertGreaterThan(40, count($cases));
        foreach ($cases as $case) {
            try {
                self::ring($case)->open(hex2bin($case['aad_hex']), $case['envelope']);
                $this->fail("opened: {$case['desc']}");
            } catch (EnvelopeException $e) {
                $this->assertSame($case['error'], $e->reason, $case['desc']);
            }
        }
    }

    public function testSecretVectors(): void
    {
        foreach (Vectors::cases('secret.json') as $case) {
            try {
                Secret::check($case['secret']);
                $this->assertNull($case['error'], $case['desc']);
            } catch (ConfigException $e) {
                $this->assertSame($case['error'], $e->reason, $case['desc']);
            }
        }
    }

    public function testRoundTripsAtBlockBoundariesAndBinaryData(): void
    {
        $ring = new Keyring(Secret::generate(), 2 << 20);
        foreach ([0, 1, 15, 16, 17, 1 << 20] as $n) {
            $plain = $n > 0 ? random_bytes($n) : "";
            $this->assertSame($plain, $ring->open("aad\0x", $ring->seal("aad\0x", $plain)));
        }
    }

    public function testRotationAndBadKeyrings(): void
    {
        [$old, $new] = [Secret::generate(), Secret::generate()];
        $this->assertSame('m', (new Keyring([$new, $old]))->open('', (new Keyring($old))->seal('', 'm')));
        $this->expectException(ConfigException::class);
        $this->expectExceptionMessageMatches('/at most 3 secrets/');
        new Keyring([Secret::generate(), Secret::generate(), Secret::generate(), $old]);
    }

    public function testNonces(): void
    {
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9_-]{40}$/', Secret::nonce(40));
        $this->assertNotSame(Secret::nonce(), Secret::nonce());
        $this->expectException(\Usersync\Exception::class);
        Secret::nonce(8);
    }
}
