<?php
// WP-CLI's table/json printer, stood in: what a command asked it to print is recorded.
declare(strict_types=1);

namespace WP_CLI\Utils;

function format_items(string $format, array $items, array $fields): void
{
    \WP_CLI::$said[] = ['items', $format, $items, $fields];
}

/** A progress bar, stood in: its size, ticks and whether it was finished are recorded. */
final class Bar
{
    public int $ticks = 0;
    public bool $finished = false;

    public function __construct(public string $message, public int $count)
    {
    }
    public function tick(int $n = 1): void
    {
        $this->ticks += $n;
    }
    public function finish(): void
    {
        $this->finished = true;
    }
}

function make_progress_bar(string $message, int $count): Bar
{
    return \WP_CLI::$said[] = new Bar($message, $count);
}
