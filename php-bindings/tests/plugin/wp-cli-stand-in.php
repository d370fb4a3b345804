<?php
// phpcs:ignoreFile -- stands in for WP-CLI, whose global class names (WP_CLI) and one-file layout it must keep.
// A small stand-in for WP-CLI (not installable here), enough for the plugin's command classes:
// WP_CLI::line/log/success/warning/error record what a terminal would show; error() ends the
// command as WP-CLI does (exit status 1), here by throwing; progress bars and tables record.

namespace {
    // The one WordPress function the command classes call besides WP-CLI's.
    if (!function_exists('wp_json_encode')) {
        function wp_json_encode($value)
        {
            return json_encode($value);
        }
    }

    final class WP_CLI_Exit extends \RuntimeException
    {
    }

    final class WP_CLI
    {
        /** @var array<int, array{0: string, 1: string}> */
        public static array $out = [];

        public static function reset(): void
        {
            self::$out = [];
            \WP_CLI\Utils\Bars::$bars = [];
        }

        public static function line(string $text = ''): void
        {
            self::$out[] = ['line', $text];
        }

        public static function log(string $text): void
        {
            self::$out[] = ['log', $text];
        }

        public static function success(string $text): void
        {
            self::$out[] = ['success', $text];
        }

        public static function warning(string $text): void
        {
            self::$out[] = ['warning', $text];
        }

        public static function error(string $text): void
        {
            self::$out[] = ['error', $text];
            throw new WP_CLI_Exit($text, 1);
        }
    }
}

namespace WP_CLI\Utils {
    final class Bars
    {
        /** @var Bar[] */
        public static array $bars = [];
    }

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
        return Bars::$bars[] = new Bar($message, $count);
    }

    function format_items(string $format, array $items, array $fields): void
    {
        \WP_CLI::$out[] = ['table', json_encode(['format' => $format, 'fields' => $fields, 'items' => $items])];
    }
}
