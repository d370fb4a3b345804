//! The benchmarks' one timing rule: the median time per call over `rounds` batches, each batch
//! long enough (about `batch`) for the clock's resolution not to matter.

use std::time::{Duration, Instant};

#[allow(dead_code)] // the envelope benchmark compares with time_interleaved
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

/// Like [`time_per_call`] for several functions at once, in interleaved rounds (one batch of
/// each per round, in turn), so that load on the machine hits every side alike.
#[allow(dead_code)] // not every benchmark compares
pub fn time_interleaved(rounds: usize, batch: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let counts: Vec<u64> = fs
        .iter_mut()
        .map(|f| {
            let mut n = 1u64;
            loop {
                let t = Instant::now();
                for _ in 0..n {
                    f();
                }
                if t.elapsed() >= batch / 4 {
                    return n * 4;
                }
                n *= 2;
            }
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); fs.len()];
    for _ in 0..rounds {
        for (k, f) in fs.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..counts[k] {
                f();
            }
            samples[k].push(t.elapsed().as_nanos() as f64 / counts[k] as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            s[rounds / 2]
        })
        .collect()
}
