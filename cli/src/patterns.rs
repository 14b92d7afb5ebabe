//! `causeloop patterns assign`: the clustering engine over stdin, for benchmarks and for trying
//! the engine on one's own logs.
//!
//! Reads records from stdin, one per line, runs them through a fresh engine (`Engine::new()`,
//! the same configuration for every source) and prints one pattern id per input line, in order,
//! on stdout, and nothing else. Ids are printed once the whole input is read, resolved through
//! merges (`Engine::resolve`), so that lines whose patterns merged later in the stream share the
//! surviving id: the grouping a caller sees when it looks up an id it stored earlier.
//! `--streaming` prints each id as `assign` returns it instead. `--set NAME=VALUE` changes one
//! parameter of the clustering decision (`causeloop_patterns::Config`), for experiments and for the
//! benchmark's leave-one-system-out tuning; the product always uses the default.
//!
//! With `CAUSELOOP_PATTERNS_TIMING=1`, the time spent decoding lines, assigning and resolving is
//! reported on stderr as `engine_seconds=<f64> patterns=<n>`.

use causeloop_patterns::{Config, Engine, PatternId};
use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum PatternsCommand {
    /// Cluster the records on stdin (one per line); print one pattern id per line on stdout.
    Assign {
        /// Print each id as assigned, without resolving later merges.
        #[arg(long)]
        streaming: bool,
        /// Set one parameter of the clustering decision, NAME=VALUE (distinct_values,
        /// max_differing, max_differing_percent); repeatable. For experiments only.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}

pub fn run(command: PatternsCommand) -> anyhow::Result<()> {
    match command {
        PatternsCommand::Assign { streaming, set } => {
            let mut config = Config::default();
            for assignment in &set {
                let (name, value) = assignment
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--set wants NAME=VALUE: {assignment}"))?;
                config.set(name, value).map_err(anyhow::Error::msg)?;
            }
            assign(streaming, config)
        }
    }
}

fn assign(streaming: bool, config: Config) -> anyhow::Result<()> {
    let report_timing = std::env::var_os("CAUSELOOP_PATTERNS_TIMING").is_some_and(|v| v == "1");
    let mut input = Vec::new();
    io::stdin().lock().read_to_end(&mut input)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());

    let mut records: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    // Newline-terminated input ends with an empty piece that is not a record.
    if records.last().is_some_and(|r| r.is_empty()) {
        records.pop();
    }
    let mut engine = Engine::new().with_config(config);
    let mut ids: Vec<PatternId> = Vec::with_capacity(records.len());
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
        for id in &mut ids {
            *id = engine.resolve(*id).unwrap_or(*id);
        }
        engine_time += started.elapsed();
        let mut line = Vec::with_capacity(24);
        for id in ids {
            line.clear();
            push_decimal(&mut line, id.0);
            line.push(b'\n');
            out.write_all(&line)?;
        }
    }
    out.flush()?;
    if report_timing {
        eprintln!("engine_seconds={:.6} patterns={}", engine_time.as_secs_f64(), engine.len());
    }
    Ok(())
}

/// Appends `n` in decimal: the output is one number per line, and `fmt` would cost more than
/// the clustering of a short line.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_plain() {
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            super::push_decimal(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }
}
