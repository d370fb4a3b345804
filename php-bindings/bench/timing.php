<?php

// The PHP benchmarks' one timing rule: the median µs per call over 15 batches (3 when quick),
// each batch long enough (at least $minBatchNs) for the clock's resolution not to matter.
declare(strict_types=1);

function per_call(callable $f, bool $quick, float $minBatchNs = 10e6): float
{
    $n = 1;
    do {
        $t = hrtime(true);
        for ($i = 0; $i < $n; $i++) {
            $f(); 
        }
        $elapsed = hrtime(true) - $t;
        $n *= 2;
    } while ($elapsed < ($quick ? 1e6 : $minBatchNs));
    $samples = [];
    for ($r = 0; $r < ($quick ? 3 : 15); $r++) {
        $t = hrtime(true);
        for ($i = 0; $i < $n; $i++) {
            $f(); 
        }
        $samples[] = (hrtime(true) - $t) / $n / 1000;
    }
    sort($samples);
    return $samples[intdiv(count($samples), 2)];
}

/**
 * The median µs per call of each function, measured in interleaved rounds (one batch of each
 * per round, in turn), so that load on the machine hits every side alike. 15 rounds (3 quick).
 *
 * @param list<callable> $fs
 * @return list<float>
 */
function per_call_interleaved(array $fs, bool $quick, float $minBatchNs = 10e6): array
{
    $counts = [];
    foreach ($fs as $f) {
        $n = 1;
        do {
            $t = hrtime(true);
            for ($i = 0; $i < $n; $i++) {
                $f();
            }
            $elapsed = hrtime(true) - $t;
            $n *= 2;
        } while ($elapsed < ($quick ? 1e6 : $minBatchNs));
        $counts[] = $n;
    }
    $samples = array_fill(0, count($fs), []);
    for ($r = 0; $r < ($quick ? 3 : 15); $r++) {
        foreach ($fs as $k => $f) {
            $n = $counts[$k];
            $t = hrtime(true);
            for ($i = 0; $i < $n; $i++) {
                $f();
            }
            $samples[$k][] = (hrtime(true) - $t) / $n / 1000;
        }
    }
    return array_map(static function (array $s): float {
        sort($s);
        return $s[intdiv(count($s), 2)];
    }, $samples);
}
