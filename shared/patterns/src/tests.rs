use super::*;

fn template_of(record: &str) -> String {
    let mut engine = Engine::new();
    let id = engine.assign(record, None, None, 0).pattern_id;
    engine.pattern(id).expect("live").template.clone()
}

#[test]
fn masks_each_typed_slot() {
    assert_eq!(template_of("retry 42 of 7"), "retry <NUM> of <NUM>");
    assert_eq!(template_of("load -0.75 at 99%"), "load <NUM> at <NUM>");
    assert_eq!(template_of("connect to 10.1.2.3:8080 failed"), "connect to <IP> failed");
    assert_eq!(template_of("peer fe80::1ff:fe23:4567:890a gone"), "peer <IP> gone");
    assert_eq!(template_of("fault at 0x7fff5fbff8c8"), "fault at <HEX>");
    assert_eq!(template_of("digest 9f86d081884c7d65 mismatch"), "digest <HEX> mismatch");
    assert_eq!(template_of("nic 00:1a:2b:3c:4d:5e down"), "nic <HEX> down");
    assert_eq!(template_of("request 123e4567-e89b-12d3-a456-426614174000 done"), "request <UUID> done");
    assert_eq!(template_of("cannot open /var/log/app/error.log"), "cannot open <PATH>");
    assert_eq!(template_of("cannot open ./conf/app.toml"), "cannot open <PATH>");
    assert_eq!(template_of("GET https://api.example.com/v1/items?id=3 failed"), "GET <URL> failed");
    assert_eq!(template_of("fetch url=https://example.com/x"), "fetch url=<URL>");
    assert_eq!(template_of("query took 250ms"), "query took <DURATION>");
    assert_eq!(template_of("backoff 1h30m elapsed"), "backoff <DURATION> elapsed");
    assert_eq!(template_of("query took 1.5 s"), "query took <DURATION>");
    assert_eq!(template_of("stored 5.2 KB"), "stored <NUM>");
    assert_eq!(template_of("lost block blk_-69522958 on node-7"), "lost block <*> on <*>");
}

#[test]
fn structure_is_kept_and_values_are_split_from_keys() {
    assert_eq!(template_of("uid=0 euid=500 tty=NODEVssh"), "uid=<NUM> euid=<NUM> tty=NODEVssh");
    assert_eq!(template_of("Fan speeds ( 3552 3534 **** 3515 )"), "Fan speeds ( <NUM> **** <NUM> )");
    assert_eq!(template_of("from 10.0.0.1,10.0.0.2 done"), "from <IP> done");
    assert_eq!(template_of("at Sun Jul 10 03:03:10 2005 ok"), "at <*>:<NUM>:<NUM> ok");
    assert_eq!(template_of("connection from 1.2.3.4 () at x"), "connection from <IP> (<*>) at x");
    assert_eq!(template_of("interface eth0 up"), "interface eth0 up");
}

#[test]
fn numbers_do_not_split_patterns() {
    let mut engine = Engine::new();
    let a = engine.assign("Received block blk_1 of size 67108864 from 10.0.0.1", None, None, 1);
    let b = engine.assign("Received block blk_99 of size 12 from 10.0.0.200", None, None, 2);
    assert!(a.is_new);
    assert!(!b.is_new);
    assert_eq!(a.pattern_id, b.pattern_id);
}

#[test]
fn a_few_alternatives_stay_distinct_and_more_make_a_variable() {
    let few = Config::default().distinct_values - 1;
    let states = ["Started", "Stopped", "Paused", "Resumed", "Suspended", "Migrated"];
    let mut engine = Engine::new();
    let mut ids = Vec::new();
    for state in &states[..few] {
        let a = engine.assign(&format!("VM {state} (Lifecycle Event)"), None, None, 0);
        assert!(a.is_new && a.merged_from.is_empty());
        ids.push(a.pattern_id);
    }
    assert_eq!(engine.len(), few);
    let next = engine.assign(&format!("VM {} (Lifecycle Event)", states[few]), None, None, 0);
    assert!(!next.is_new);
    assert_eq!(next.pattern_id, ids[0], "the oldest pattern survives");
    assert_eq!(next.merged_from, ids[1..]);
    assert_eq!(engine.len(), 1);
    let survivor = engine.pattern(ids[0]).expect("live");
    assert_eq!(survivor.template, "VM <*> (Lifecycle Event)");
    assert_eq!(survivor.count, few as u64 + 1);
    for id in &ids {
        assert_eq!(engine.resolve(*id), Some(ids[0]));
        assert_eq!(engine.pattern(*id).map(|p| p.id), Some(ids[0]));
    }
    assert_eq!(engine.assign("VM Crashed (Lifecycle Event)", None, None, 0).pattern_id, ids[0]);
}

#[test]
fn the_leading_word_is_a_position_like_any_other() {
    let few = Config::default().distinct_values - 1;
    let daemons = ["cupsd", "syslogd", "klogd", "portmap", "hcid", "sshd", "crond"];
    let mut engine = Engine::new();
    let mut ids = Vec::new();
    for daemon in &daemons[..few] {
        let a = engine.assign(&format!("{daemon} startup succeeded after restart"), None, None, 0);
        assert!(a.is_new, "a few alternatives stay distinct");
        ids.push(a.pattern_id);
    }
    let next = engine.assign(&format!("{} startup succeeded after restart", daemons[few]), None, None, 0);
    assert_eq!(next.pattern_id, ids[0]);
    assert_eq!(next.merged_from, ids[1..]);
    assert_eq!(engine.pattern(ids[0]).expect("live").template, "<*> startup succeeded after restart");
    assert_eq!(engine.assign("atd startup succeeded after restart", None, None, 0).pattern_id, ids[0]);
}

#[test]
fn a_word_where_a_value_was_seen_joins_the_variable() {
    let mut engine = Engine::new();
    let ip = engine.assign("auth failure rhost=10.0.0.1", None, None, 0).pattern_id;
    let named = engine.assign("auth failure rhost=zummit.com", None, None, 0);
    assert_eq!(named.pattern_id, ip);
    assert_eq!(engine.pattern(ip).expect("live").template, "auth failure rhost=<*>");
}

#[test]
fn samples_and_seen_times_are_bounded_and_ordered() {
    let mut engine = Engine::new();
    let mut id = PatternId(0);
    for (n, at) in [50, 10, 90, 30, 70, 20, 60].into_iter().enumerate() {
        id = engine.assign(&format!("disk {n} full"), None, Some(&format!("issue-{n}")), at).pattern_id;
    }
    engine.assign("disk 1 full", None, Some("issue-0"), 40);
    let p = engine.pattern(id).expect("live");
    assert_eq!(p.count, 8);
    assert_eq!((p.first_seen_ms, p.last_seen_ms), (10, 90));
    assert_eq!(p.sample_issue_ids, ["issue-0", "issue-1", "issue-2", "issue-3", "issue-4"]);
}

#[test]
fn eviction_keeps_the_cap_and_never_reuses_ids() {
    let mut engine = Engine::with_capacity_limit(3);
    let mut seen = Vec::new();
    // Records of different chunk counts: never siblings, so each stays its own pattern.
    let records: Vec<String> = (1..=7).map(|n| vec!["event"; n].join(" ")).collect();
    for record in &records {
        let a = engine.assign(record, None, None, 0);
        assert!(a.is_new);
        assert!(engine.len() <= 3);
        assert!(seen.iter().all(|&s| s < a.pattern_id), "ids grow monotonically");
        seen.push(a.pattern_id);
    }
    assert_eq!(engine.resolve(seen[0]), None, "the coldest pattern was evicted");
    assert!(engine.pattern(seen[0]).is_none());
    let again = engine.assign(&records[0], None, None, 0);
    assert!(again.is_new);
    assert!(again.pattern_id > *seen.last().expect("ids"));
}

#[test]
fn body_first_line_takes_part() {
    let mut engine = Engine::new();
    let a = engine.assign("Job failed", Some("\n  TypeError: x is undefined\n at f (a.js:1)"), None, 0);
    let b = engine.assign("Job failed", Some("TypeError: x is undefined\n at g (b.js:9)"), None, 0);
    let c = engine.assign("Job failed", Some("Timeout after 30s"), None, 0);
    assert_eq!(a.pattern_id, b.pattern_id);
    assert_ne!(a.pattern_id, c.pattern_id);
    assert_eq!(engine.pattern(a.pattern_id).expect("live").template, "Job failed\nTypeError: x is undefined");
}

#[test]
fn round_trips_through_bytes_and_json() {
    let mut engine = Engine::new();
    for n in 0..50 {
        engine.assign(&format!("user u{} logged in from 10.0.0.{n}", n % 7), None, Some("i"), n);
    }
    let bytes = engine.to_bytes();
    let back = Engine::from_bytes(&bytes).expect("decodes");
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.patterns().collect::<Vec<_>>(), engine.patterns().collect::<Vec<_>>());
    let json = serde_json::to_string(&engine).expect("serializes");
    let from_json: Engine = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(from_json.to_bytes(), bytes);
}

/// Found by the `patterns_lexer` fuzz target: a record that lexes to no token makes a pattern
/// with an empty template, and a saved engine holding one must load and go on as before.
#[test]
fn a_record_of_no_tokens_survives_a_save_and_load() {
    let mut engine = Engine::new();
    let blank = engine.assign(" \t ", None, None, 0);
    engine.assign("disk 1 full", None, None, 1);
    let mut back = Engine::from_bytes(&engine.to_bytes()).expect("what the encoder writes decodes");
    assert_eq!(back.to_bytes(), engine.to_bytes());
    let again = back.assign("", None, None, 2);
    assert_eq!((again.pattern_id, again.is_new), (blank.pattern_id, false));
}

/// Found by the `patterns_lexer` fuzz target: a merge whose survivor has one chunk more than
/// the record it was made for (the generalised chunk splits) used to index past the record's
/// chunks and panic. The second pair is the same on real BGL log lines.
#[test]
fn a_merge_that_changes_the_chunk_count_does_not_panic() {
    let pairs = [
        ("a c b (x", "a c b 3(x"),
        (
            "ciod: failed to read message prefix on control stream (CioStream socket to 172.16.96.116:33569",
            "ciod: failed to read message prefix on control stream 0X(CioStream socket to 172.16.96.116:33569",
        ),
    ];
    for (first, second) in pairs {
        let mut engine = Engine::new();
        let a = engine.assign(first, None, None, 0);
        let b = engine.assign(second, None, None, 1);
        let survivor = engine.resolve(a.pattern_id).expect("live or merged");
        assert_eq!(engine.resolve(b.pattern_id), Some(survivor), "{first:?} and {second:?} share a pattern");
        assert_eq!(engine.pattern(survivor).expect("live").count, 2);
        Engine::from_bytes(&engine.to_bytes()).expect("the state after the merge saves and loads");
    }
}

#[test]
fn rejects_foreign_or_damaged_bytes() {
    assert_eq!(Engine::from_bytes(b"nope").unwrap_err(), DecodeError::BadMagic);
    assert_eq!(Engine::from_bytes(b"CLPE\x09").unwrap_err(), DecodeError::UnsupportedVersion(9));
    let mut engine = Engine::new();
    engine.assign("disk 1 full", None, None, 0);
    let bytes = engine.to_bytes();
    assert!(matches!(Engine::from_bytes(&bytes[..bytes.len() - 3]), Err(DecodeError::Malformed(_))));
}

#[test]
fn pattern_id_displays_as_decimal() {
    assert_eq!(PatternId(42).to_string(), "42");
    assert_eq!(serde_json::to_string(&PatternId(42)).expect("json"), "42");
}

#[test]
fn short_words_read_as_zero_padded_little_endian() {
    let bytes: Vec<u8> = (1..=7u8).map(|b| b.wrapping_mul(37) | 0x80).collect();
    for len in 0..8 {
        let mut padded = [0u8; 8];
        padded[..len].copy_from_slice(&bytes[..len]);
        assert_eq!(short_le_word(&bytes[..len]), u64::from_le_bytes(padded), "{len} bytes");
    }
}

#[test]
fn single_byte_hashes_are_the_general_hash() {
    for byte in 0..=255u8 {
        assert_eq!(SINGLE_BYTE_HASHES[usize::from(byte)], hash_bytes(&[byte]), "{byte}");
    }
}

#[test]
fn states_of_format_1_still_decode_with_the_default_byte_cap() {
    let mut engine = Engine::with_limits(300, 200_000);
    for n in 0..40 {
        engine.assign(&format!("user u{} logged in from 10.0.0.{n}", n % 9), None, Some("i"), n);
    }
    let v2 = engine.to_bytes();
    // Format 1 is format 2 without the byte cap, the varint after the pattern cap.
    let varint_len = |bytes: &[u8]| bytes.iter().position(|b| b & 0x80 == 0).expect("a varint") + 1;
    let after_cap = 5 + varint_len(&v2[5..]);
    let after_bytes = after_cap + varint_len(&v2[after_cap..]);
    let mut v1 = v2[..after_cap].to_vec();
    v1[4] = 1;
    v1.extend_from_slice(&v2[after_bytes..]);
    let back = Engine::from_bytes(&v1).expect("format 1 decodes");
    assert_eq!(back.max_state_bytes(), DEFAULT_MAX_STATE_BYTES);
    assert_eq!(back.max_patterns(), 300);
    assert_eq!(back.patterns().collect::<Vec<_>>(), engine.patterns().collect::<Vec<_>>());
}
