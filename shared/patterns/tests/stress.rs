//! Synthetic stress streams for the failure modes seen on systems the engine was never tuned on:
//! lines that start with a variable word, values that tokenise differently from line to line, and
//! variables that change together. Each stream is generated (seeded), labelled by construction,
//! and scored with grouping accuracy as the benchmark does. Nothing here names a real data set.

use std::collections::HashMap;

use causeloop_patterns::Engine;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Grouping accuracy: the share of lines whose predicted group is exactly their true group.
fn grouping_accuracy(truth: &[usize], predicted: &[u64]) -> f64 {
    let mut by_truth: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut by_prediction: HashMap<u64, usize> = HashMap::new();
    for (i, &t) in truth.iter().enumerate() {
        by_truth.entry(t).or_default().push(i);
        *by_prediction.entry(predicted[i]).or_default() += 1;
    }
    let correct: usize = by_truth
        .values()
        .filter(|lines| {
            let first = predicted[lines[0]];
            lines.iter().all(|&i| predicted[i] == first) && by_prediction[&first] == lines.len()
        })
        .map(Vec::len)
        .sum();
    correct as f64 / truth.len() as f64
}

/// Runs the stream through a fresh engine and scores the ids as resolved at the end.
fn score(stream: &[(usize, String)]) -> (f64, Engine) {
    let mut engine = Engine::new();
    let ids: Vec<_> = stream.iter().map(|(_, line)| engine.assign(line, None, None, 0).pattern_id).collect();
    let predicted: Vec<u64> = ids.iter().map(|&id| engine.resolve(id).unwrap_or(id).0).collect();
    let truth: Vec<usize> = stream.iter().map(|(t, _)| *t).collect();
    (grouping_accuracy(&truth, &predicted), engine)
}

const PROGRAMS: &[&str] =
    &["chrome.exe", "firefox.exe", "outlook.exe", "svchost.exe", "teams.exe", "slack.exe", "git.exe", "curl.exe"];
const HOSTS: &[&str] = &[
    "www.example.com",
    "cdn.example.net",
    "mail.example.org",
    "api.internal",
    "proxy.corp.local",
    "update.vendor.com",
];
const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];

fn endpoint(rng: &mut Rng) -> String {
    if rng.below(2) == 0 {
        format!("{}.{}.{}.{}:{}", rng.below(223) + 1, rng.below(256), rng.below(256), rng.below(256), rng.below(65535))
    } else {
        format!("{}:{}", rng.pick(HOSTS), [80, 443, 8080, 5070][rng.below(4) as usize])
    }
}

/// Lines that start with a program name (a variable), with endpoints written as an IP or a host
/// name: five events.
fn proxy_stream(rng: &mut Rng, n: usize) -> Vec<(usize, String)> {
    (0..n)
        .map(|_| {
            let program = rng.pick(PROGRAMS);
            let event = rng.below(5) as usize;
            let line = match event {
                0 => format!(
                    "{program} - {} close, {} bytes sent, {} bytes received, lifetime {:02}:{:02}",
                    endpoint(rng),
                    rng.below(100_000),
                    rng.below(1_000_000),
                    rng.below(60),
                    rng.below(60)
                ),
                1 => format!("{program} - {} open through proxy {} HTTPS", endpoint(rng), endpoint(rng)),
                2 => format!(
                    "{program} - {} error : Could not connect through proxy {} - connection refused",
                    endpoint(rng),
                    endpoint(rng)
                ),
                // Two rules: two events (a few alternatives are kept apart, see `enumerations_stay_distinct`).
                3 => format!("{program} *64 - {} matching default rule : direct connection", endpoint(rng)),
                _ => format!("{program} *64 - {} matching local rule : direct connection", endpoint(rng)),
            };
            (event, line)
        })
        .collect()
}

#[test]
fn lines_that_start_with_a_variable_word_group_by_event() {
    let stream = proxy_stream(&mut Rng(0x5eed_0001), 3_000);
    let (ga, engine) = score(&stream);
    let templates: Vec<&str> = engine.patterns().map(|p| p.template.as_str()).collect();
    assert!(ga >= 0.95, "GA {ga:.3}; templates {templates:#?}");
    assert!(templates.iter().any(|t| t.starts_with("<*> - <*> close, <NUM> bytes sent")), "{templates:#?}");
}

/// Two variables that change together (a user and a host name, both plain words), in messages of
/// several shapes.
#[test]
fn variables_that_change_together_merge() {
    let mut rng = Rng(0x5eed_0002);
    let stream: Vec<(usize, String)> = (0..2_000)
        .map(|_| {
            let (user, host) = (rng.pick(USERS), rng.pick(HOSTS));
            let event = rng.below(3) as usize;
            let line = match event {
                0 => format!("Accepted publickey for {user} from {host} port {} ssh2", rng.below(65535)),
                1 => format!("session opened for user {user} on {host} by daemon"),
                _ => format!("Failed password for invalid user {user} from {host} port {} ssh2", rng.below(65535)),
            };
            (event, line)
        })
        .collect();
    let (ga, engine) = score(&stream);
    let templates: Vec<&str> = engine.patterns().map(|p| p.template.as_str()).collect();
    assert!(ga >= 0.95, "GA {ga:.3}; templates {templates:#?}");
}

/// A handful of alternatives of a word that names the event (start/stop) stay distinct events.
#[test]
fn enumerations_stay_distinct() {
    let mut rng = Rng(0x5eed_0003);
    let stream: Vec<(usize, String)> = (0..1_000)
        .map(|_| {
            let (event, verb) = [(0, "started"), (1, "stopped"), (2, "paused")][rng.below(3) as usize];
            (event, format!("[instance: {}] VM {verb} (lifecycle event)", rng.next()))
        })
        .collect();
    let (ga, _) = score(&stream);
    assert_eq!(ga, 1.0);
}
