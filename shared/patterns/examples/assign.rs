//! Reads records from stdin (one per line), clusters them with a fresh engine and prints one
//! pattern id per input line, in order, on stdout.
//!
//! Ids are printed after the whole input is read, resolved through merges, so that lines whose
//! patterns merged later in the stream share the surviving id (exactly what `Engine::resolve`
//! gives a caller that looks an id up afterwards). `--streaming` prints each id as returned by
//! `assign` instead, without resolution. `--with-templates` appends a tab and the pattern's
//! template to each resolved id (for inspection; not the benchmark format).
//!
//! With `CAUSELOOP_PATTERNS_TIMING=1`, the time spent in the assign loop (UTF-8 decoding of each
//! line and `Engine::assign`; in streaming mode also the writes) plus resolution is reported on stderr as
//! `engine_seconds=<f64> patterns=<n>` (stdout is unaffected).

use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

use causeloop_patterns::{Engine, PatternId};

fn main() -> io::Result<()> {
    let streaming = std::env::args().skip(1).any(|a| a == "--streaming");
    let with_templates = std::env::args().skip(1).any(|a| a == "--with-templates");
    let report_timing = std::env::var_os("CAUSELOOP_PATTERNS_TIMING").is_some_and(|v| v == "1");

    let mut input = Vec::new();
    io::stdin().lock().read_to_end(&mut input)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());

    let mut engine = Engine::new();
    let mut ids: Vec<PatternId> = Vec::new();
    let mut records: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    // Newline-terminated input ends with an empty piece that is not a record.
    if records.last().is_some_and(|r| r.is_empty()) {
        records.pop();
    }
    let started = Instant::now();
    for raw in records {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Valid UTF-8 (the norm) is borrowed after a fast check; only invalid input is repaired.
        let line = match std::str::from_utf8(raw) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let id = engine.assign(&line, None, None, 0).pattern_id;
        if streaming {
            writeln!(out, "{id}")?;
        } else {
            ids.push(id);
        }
    }
    let mut engine_time = started.elapsed();
    if !streaming {
        let started = Instant::now();
        let resolved: Vec<PatternId> = ids.iter().map(|&id| engine.resolve(id).unwrap_or(id)).collect();
        engine_time += started.elapsed();
        for id in resolved {
            match engine.pattern(id).filter(|_| with_templates) {
                Some(p) => writeln!(out, "{id}\t{}", p.template.replace('\n', "\\n"))?,
                None => writeln!(out, "{id}")?,
            }
        }
    }
    out.flush()?;
    if report_timing {
        eprintln!("engine_seconds={:.6} patterns={}", engine_time.as_secs_f64(), engine.len());
    }
    Ok(())
}
