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
