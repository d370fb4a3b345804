<?php
// WP-CLI's table/json printer, stood in: what a command asked it to print is recorded.
declare(strict_types=1);

namespace WP_CLI\Utils;

function format_items(string $format, array $items, array $fields): void
{
    \WP_CLI::$said[] = ['items', $format, $items, $fields];
}
