<?php

declare(strict_types=1);

namespace Usersync\Tests;

/** The shared JSON vectors in tests/vectors/ (made by the Python generator and real WordPress). */
final class Vectors
{
    public static function load(string $name): array
    {
        $path = dirname(__DIR__, 2) . "/tests/vectors/$name";
        return json_decode((string) file_get_contents($path), true, 512, JSON_THROW_ON_ERROR);
    }

    public static function cases(string $name): array
    {
        return self::load($name)['cases'];
    }
}
