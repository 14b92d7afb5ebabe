//! Hostile input: whatever a workspace sends, its engine state stays within the caps.

use causeloop_patterns::{Engine, DEFAULT_MAX_STATE_BYTES, MAX_TEMPLATE_BYTES, MAX_TOKENS, MAX_TOKEN_BYTES};

/// A small deterministic generator (xorshift), so that the junk is the same on every run.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn word(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b'a' + (self.next() % 26) as u8)).collect()
    }
}

/// The attack of the issue: 2,000 records whose body line is a run of dashes of a distinct length
/// (up to 64 KiB), mixed with other junk: long words, long punctuation of other kinds, many tokens,
/// multi-byte text, distinct words everywhere.
fn attack() -> Vec<(String, String)> {
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    (0..2_000usize)
        .map(|i| {
            let body = match i % 6 {
                0 | 1 => "-".repeat(1 + i * 32 % 65_536),
                2 => format!("{} {}", "=+".repeat(1 + i % 4_000), junk.word(3 + i % 60)),
                3 => (0..400).map(|_| junk.word(5)).collect::<Vec<_>>().join(" "),
                4 => junk.word(1 + i * 31 % 65_536),
                _ => format!("é{}ü {}", "ß".repeat(1 + i % 3_000), "…".repeat(1 + i % 700)),
            };
            (format!("{} failed at stage {}", junk.word(8), junk.word(1 + i % 200)), body)
        })
        .collect()
}

#[test]
fn the_dash_run_attack_stays_under_the_state_cap() {
    // As the cluster worker builds a workspace's engine: 2,000 live patterns, default state cap.
    let mut engine = Engine::with_capacity_limit(2_000);
    let mut largest = 0;
    for (n, (title, body)) in attack().iter().enumerate() {
        let issue = format!("issue-{n:030}");
        engine.assign(title, Some(body), Some(&issue), n as i64);
        largest = largest.max(engine.state_bytes_bound());
        assert!(engine.state_bytes_bound() <= DEFAULT_MAX_STATE_BYTES, "record {n}: {}", engine.state_bytes_bound());
    }
    let bytes = engine.to_bytes();
    assert!(bytes.len() <= engine.state_bytes_bound(), "the bound is an upper bound");
    assert!(bytes.len() <= DEFAULT_MAX_STATE_BYTES, "{} bytes", bytes.len());
    eprintln!("state after the attack: {} bytes ({} patterns), largest bound {largest}", bytes.len(), engine.len());
    for pattern in engine.patterns() {
        assert!(pattern.template.len() <= MAX_TEMPLATE_BYTES + MAX_TOKENS * "<DURATION>".len() + MAX_TOKENS);
        for token in pattern.template.split([' ', '\n']) {
            assert!(token.len() <= MAX_TOKEN_BYTES || token.contains('<'), "{token:?}");
        }
    }
    let reloaded = Engine::from_bytes(&bytes).expect("decodes");
    assert_eq!(reloaded.to_bytes(), bytes);
}

#[test]
fn a_small_state_cap_evicts_the_coldest_and_keeps_aliases_consistent() {
    let cap = causeloop_patterns::MIN_MAX_STATE_BYTES;
    let mut engine = Engine::with_limits(5_000, cap);
    let mut junk = Junk(7);
    let mut ids = Vec::new();
    for n in 0..3_000usize {
        // Families of records that merge (a variable word), among unique junk that fills the state.
        let record = if n % 3 == 0 {
            format!("worker {} lost its lease on shard", junk.word(6))
        } else {
            format!("{} {}", junk.word(40), "-".repeat(1 + n % 60))
        };
        let a = engine.assign(&record, None, Some(&format!("i{n}")), n as i64);
        ids.push(a.pattern_id);
        assert!(engine.state_bytes_bound() <= cap);
    }
    assert!(engine.to_bytes().len() <= cap);
    // The merged family is hot and survives; every id either resolves to a live pattern or not at all.
    let family = engine.assign("worker zzzzzz lost its lease on shard", None, None, 0).pattern_id;
    assert_eq!(engine.pattern(family).expect("live").template, "worker <*> lost its lease on shard");
    for id in ids {
        if let Some(live) = engine.resolve(id) {
            assert!(engine.pattern(live).is_some());
        }
    }
}
