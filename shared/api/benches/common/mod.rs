//! The measuring loop the CPU benches share: a warm-up of a tenth of the calls, then the mean.

use std::time::Instant;

pub fn measure(name: &str, iterations: u32, mut work: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        work();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        work();
    }
    let per_call = started.elapsed().as_secs_f64() / f64::from(iterations);
    println!("{name}: {:.2} µs per call ({iterations} calls)", per_call * 1e6);
    per_call
}
