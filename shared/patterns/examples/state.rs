//! Feeds the records on stdin (one per line) to a fresh engine, as the product would (with an
//! issue id and a timestamp per record), and reports time, pattern count and serialized size,
//! for the default configuration and for a small capacity limit that forces eviction.

use std::io::{self, Read};
use std::time::Instant;

use causeloop_patterns::Engine;

fn measure(label: &str, mut engine: Engine, records: &[String]) {
    let started = Instant::now();
    for (n, record) in records.iter().enumerate() {
        let issue = format!("issue-{n:08}");
        engine.assign(record, None, Some(&issue), 1_700_000_000_000 + n as i64 * 1_000);
    }
    let assign_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let bytes = engine.to_bytes();
    let encode_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let reloaded = Engine::from_bytes(&bytes).expect("state written by to_bytes decodes");
    let decode_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(reloaded.len(), engine.len());
    println!(
        "- {label}: {} records in {:.3} s ({:.0} records/s); {} live patterns, {} aliases; \
         state {} bytes ({:.1} KiB); to_bytes {:.2} ms, from_bytes {:.2} ms",
        records.len(),
        assign_seconds,
        records.len() as f64 / assign_seconds,
        engine.len(),
        engine.alias_count(),
        bytes.len(),
        bytes.len() as f64 / 1024.0,
        encode_ms,
        decode_ms,
    );
}

fn main() -> io::Result<()> {
    let mut input = Vec::new();
    io::stdin().lock().read_to_end(&mut input)?;
    let records: Vec<String> = String::from_utf8_lossy(&input).lines().map(str::to_owned).collect();
    measure("Engine::new() (cap 5000)", Engine::new(), &records);
    measure("Engine::with_capacity_limit(200)", Engine::with_capacity_limit(200), &records);
    Ok(())
}
