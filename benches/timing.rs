//! The benchmarks' one timing rule: the median time per call over `rounds` batches, each batch
//! long enough (about `batch`) for the clock's resolution not to matter.

use std::time::{Duration, Instant};

pub fn time_per_call(rounds: usize, batch: Duration, mut f: impl FnMut()) -> f64 {
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        if t.elapsed() >= batch / 4 {
            break;
        }
        n *= 2;
    }
    let n = n * 4;
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[rounds / 2]
}

/// `--quick` (CI's smoke run) or the full run.
pub fn settings() -> (bool, usize, Duration) {
    if std::env::args().any(|a| a == "--quick") {
        (true, 3, Duration::from_millis(2))
    } else {
        (false, 21, Duration::from_millis(40))
    }
}
