//! The log lexer (`shared/patterns/src/lexer.rs`) through the clustering engine's public entry
//! point, `Engine::assign`: the lexer is private to `causeloop-patterns`, and every record it
//! reads reaches it through `assign`, which also runs the clustering behind it.
//! Input: text (bytes that are not UTF-8 are converted lossily, as `examples/assign.rs` of the
//! crate does); records are separated by blank lines, and a record's first line is its title and
//! the rest its body.
//!
//! Beyond "no panic" this asserts the engine's documented promises on whatever the records are:
//! the returned pattern exists, state and templates stay within their caps, the serialized state
//! decodes to the same bytes, and an engine reloaded halfway through continues exactly as the
//! original does.
#![no_main]

use causeloop_patterns::{Assignment, Engine, MAX_TEMPLATE_BYTES, MAX_TOKENS, MIN_MAX_STATE_BYTES};
use libfuzzer_sys::fuzz_target;

/// Records per input at most, so one input stays fast; merges and evictions need only a few.
const MAX_RECORDS: usize = 64;
/// A small engine, so eviction and alias bookkeeping run within a few records.
const MAX_PATTERNS: usize = 8;

/// The caps the crate documents: live patterns, serialized state, and a template's size (its
/// constant text, plus at most one placeholder and one separator per token, as
/// `shared/patterns/tests/hostile.rs` bounds it). Single tokens are not checked in the rendered
/// template: tokens written without a space between them (`é…ß=+=+`) read as one word there.
fn check_engine(engine: &Engine) {
    assert!(engine.len() <= engine.max_patterns(), "{} live patterns", engine.len());
    assert!(engine.state_bytes_bound() <= engine.max_state_bytes(), "state bound {}", engine.state_bytes_bound());
    for pattern in engine.patterns() {
        let template = &pattern.template;
        assert!(template.len() <= MAX_TEMPLATE_BYTES + MAX_TOKENS * "<DURATION>".len() + MAX_TOKENS, "{template:?}");
    }
}

/// Assigns the `n`th record (at millisecond `n`, as issue `iss_<n>`) and checks that the pattern
/// it got resolves, as the cluster worker relies on.
fn assign(engine: &mut Engine, (title, body): (&str, Option<&str>), n: usize) -> Assignment {
    let assignment = engine.assign(title, body, Some(&format!("iss_{n}")), n as i64);
    assert!(engine.pattern(assignment.pattern_id).is_some(), "assigned {} does not resolve", assignment.pattern_id);
    assignment
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let records: Vec<(&str, Option<&str>)> = text
        .split("\n\n")
        .take(MAX_RECORDS)
        .map(|record| match record.split_once('\n') {
            Some((title, body)) => (title, Some(body)),
            None => (record, None),
        })
        .collect();
    let (first_half, second_half) = records.split_at(records.len() / 2);

    let mut engine = Engine::with_limits(MAX_PATTERNS, MIN_MAX_STATE_BYTES);
    for (n, &record) in first_half.iter().enumerate() {
        assign(&mut engine, record, n);
    }
    check_engine(&engine);

    let bytes = engine.to_bytes();
    assert!(bytes.len() <= engine.state_bytes_bound(), "{} bytes over the bound", bytes.len());
    let mut reloaded = Engine::from_bytes(&bytes).expect("an engine's own bytes decode");
    assert!(reloaded.to_bytes() == bytes, "decoding and encoding again changed the state");

    for (n, &record) in second_half.iter().enumerate() {
        let original = assign(&mut engine, record, first_half.len() + n);
        let continued = assign(&mut reloaded, record, first_half.len() + n);
        assert_eq!(original, continued, "the reloaded engine decided otherwise on {record:?}");
    }
    check_engine(&engine);
    assert!(engine.to_bytes() == reloaded.to_bytes(), "the reloaded engine's state diverged");
});
