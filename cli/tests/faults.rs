//! The fault suite: `causeloop serve` on loopback, as a user runs it, through a burst of
//! concurrent ingests during which the process is killed (SIGKILL, twice) and restarted on the
//! same data directory, while one of two outbound endpoints is down (503) for a while.
//!
//! Clients behave as the API contract tells them to: each event carries an `Idempotency-Key`,
//! and a request that got no answer is sent again until it gets one. What must hold:
//! - every event ends as exactly one Issue with one occurrence (nothing applied twice), clustered;
//! - the healthy endpoint receives `issue.ingested` for every event, each event under one
//!   `webhook-id` only (receivers deduplicate on it), and the endpoint that was down receives
//!   every event once it is back.
//!
//! The figures (retried requests, attempts seen twice, time to converge) are printed for
//! BENCHMARKS.md: `cargo test -p causeloop --test faults -- --nocapture`.

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_causeloop");
const EVENTS: usize = 200;
const CLIENTS: usize = 4;
/// Liveness ceiling for convergence (the down endpoint waits out its circuit, about a minute);
/// not a timing assertion.
const CONVERGE_WITHIN: Duration = Duration::from_secs(300);

/// A webhook receiver on 127.0.0.1 that records each request's `webhook-id` and event id, and
/// answers 503 while `down`, 200 otherwise.
struct Endpoint {
    url: String,
    down: Arc<AtomicBool>,
    /// (webhook-id, event id, answered 2xx)
    seen: Arc<Mutex<Vec<(String, String, bool)>>>,
}

impl Endpoint {
    fn start(down: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(down));
        let seen: Arc<Mutex<Vec<(String, String, bool)>>> = Arc::default();
        let (flag, log) = (down.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (flag, log) = (flag.clone(), log.clone());
                std::thread::spawn(move || answer(stream, &flag, &log));
            }
        });
        Self { url, down, seen }
    }

    /// Event ids delivered with a 2xx, and the `webhook-id`s each came under.
    fn delivered(&self) -> HashMap<String, HashSet<String>> {
        let mut by_event: HashMap<String, HashSet<String>> = HashMap::new();
        for (webhook_id, event_id, ok) in self.seen.lock().unwrap().iter() {
            if *ok {
                by_event.entry(event_id.clone()).or_default().insert(webhook_id.clone());
            }
        }
        by_event
    }
}

fn answer(stream: TcpStream, down: &AtomicBool, seen: &Mutex<Vec<(String, String, bool)>>) {
    let mut reader = BufReader::new(stream);
    let (mut length, mut webhook_id) = (0usize, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "webhook-id" => webhook_id = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let envelope: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = !down.load(Ordering::SeqCst);
    if envelope["event_type"] == "issue.ingested" {
        let event_id = envelope["data"]["issue"]["external_id"].as_str().unwrap_or_default().to_string();
        seen.lock().unwrap().push((webhook_id, event_id, ok));
    }
    let status = if ok { "200 OK" } else { "503 Service Unavailable" };
    let _ = reader
        .get_mut()
        .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
}

fn serve(data_dir: &Path, addr: &str) -> (Child, String) {
    for _ in 0..50 {
        let mut child = Command::new(BIN)
            .args(["serve", "--allow-private-targets", "--addr", addr, "--data-dir", data_dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines {
            if let Some(base) = line.unwrap().strip_prefix("causeloop listening on ") {
                return (child, base.to_string());
            }
        }
        // It exited before listening (the port of the killed process not yet free): again.
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("serve did not start on {addr}");
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

#[test]
fn a_burst_survives_kills_and_an_endpoint_outage_with_nothing_lost_or_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, base) = serve(&data, "127.0.0.1:0");
    let addr = base.trim_start_matches("http://").to_string();
    let server = Arc::new(Mutex::new(child));
    let credentials: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("credentials.json")).unwrap()).unwrap();
    let key = credentials["key"].as_str().unwrap().to_string();

    let healthy = Endpoint::start(false);
    let flaky = Endpoint::start(true);
    for endpoint in [&healthy, &flaky] {
        let body = json!({"url": endpoint.url, "event_types": ["issue.ingested"]});
        let response = client().post(format!("{base}/v1/webhooks")).bearer_auth(&key).json(&body).send().unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }

    // The burst: each client sends its share of the events, each until it is answered.
    let started = Instant::now();
    let (accepted, retried) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (base, key, accepted, retried) = (base.clone(), key.clone(), accepted.clone(), retried.clone());
            std::thread::spawn(move || {
                let http = client();
                for n in (c..EVENTS).step_by(CLIENTS) {
                    let body = json!({
                        "source": "fault-suite", "external_id": format!("e-{n}"), "severity": "p2",
                        "title": format!("Connection pool exhausted on db-{} after {} ms", n % 7, 100 + n),
                    });
                    loop {
                        let sent = http
                            .post(format!("{base}/v1/ingest/events"))
                            .bearer_auth(&key)
                            .header("Idempotency-Key", format!("fault-{n}"))
                            .json(&body)
                            .send();
                        match sent {
                            Ok(response) if response.status().is_success() => break,
                            Ok(response) => assert!(response.status().is_server_error(), "{}", response.status()),
                            Err(_) => {}
                        }
                        retried.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Two kills mid-burst, each followed by a restart on the same data directory and port.
    for at in [EVENTS / 4, EVENTS / 2] {
        while accepted.load(Ordering::SeqCst) < at {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut child = server.lock().unwrap();
        child.kill().unwrap(); // SIGKILL: no shutdown, no flush
        child.wait().unwrap();
        let (restarted, _) = serve(&data, &addr);
        *child = restarted;
    }
    for client in clients {
        client.join().unwrap();
    }
    let burst = started.elapsed();
    flaky.down.store(false, Ordering::SeqCst);

    // Convergence: every event an Issue, clustered, and delivered to both endpoints.
    let http = client();
    let issues = || -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = HashSet::new();
        loop {
            let mut url = format!("{base}/v1/issues?source=fault-suite&limit=100");
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let Ok(page) = http.get(url).bearer_auth(&key).send().and_then(|r| r.json::<Value>()) else {
                return all;
            };
            all.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert!(
                        seen_cursors.insert(next.to_string()),
                        "the listing's cursor repeats: {next} after {} Issues",
                        all.len()
                    );
                    cursor = Some(next.to_string())
                }
                None => return all,
            }
        }
    };
    let converged = loop {
        let stored = issues();
        let clustered = stored.iter().filter(|issue| issue["pattern_id"].is_string()).count();
        if clustered == EVENTS && healthy.delivered().len() == EVENTS && flaky.delivered().len() == EVENTS {
            break stored;
        }
        assert!(
            started.elapsed() < CONVERGE_WITHIN,
            "not converged: {} Issues ({clustered} clustered), {} and {} events delivered",
            stored.len(),
            healthy.delivered().len(),
            flaky.delivered().len()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let elapsed = started.elapsed();

    assert_eq!(converged.len(), EVENTS, "one Issue per event");
    assert!(converged.iter().all(|issue| issue["occurrences"] == 1), "a retried request counted twice");
    for (name, endpoint) in [("healthy", &healthy), ("flaky", &flaky)] {
        let delivered = endpoint.delivered();
        let split: Vec<_> = delivered.iter().filter(|(_, ids)| ids.len() > 1).collect();
        assert!(split.is_empty(), "{name}: an event came under two webhook-ids: {split:?}");
    }
    let count =
        |endpoint: &Endpoint, ok: bool| endpoint.seen.lock().unwrap().iter().filter(|seen| seen.2 == ok).count();
    let (healthy_posts, flaky_failed, flaky_posts) = (count(&healthy, true), count(&flaky, false), count(&flaky, true));
    eprintln!(
        "fault suite: {EVENTS} events from {CLIENTS} clients, 2 SIGKILLs; burst {:.1} s, {} requests retried; \
         converged in {:.1} s; healthy endpoint: {} successful posts for {EVENTS} events; \
         endpoint down during the burst: {} failed and {} successful posts",
        burst.as_secs_f64(),
        retried.load(Ordering::SeqCst),
        elapsed.as_secs_f64(),
        healthy_posts,
        flaky_failed,
        flaky_posts,
    );
    let mut child = server.lock().unwrap();
    let _ = child.kill();
    let _ = child.wait();
}
