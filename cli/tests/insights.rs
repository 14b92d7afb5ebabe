//! `causeloop insights replay` as the benchmark runs it: incidents as JSON lines on stdin, one
//! `{"id", "p_recur"}` line per resolution on stdout, in resolution order.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_causeloop");

const INCIDENTS: &str = r#"{"id": "a1", "service": "api", "title": "t", "body": "", "severity": "high", "opened_at": "2020-01-01T00:00:00Z", "resolved_at": "2020-01-01T02:00:00Z", "fix": "Restarted the pods"}
{"id": "b1", "service": "db", "title": "t", "body": "", "severity": "low", "opened_at": "2020-01-01T01:00:00Z", "resolved_at": "2020-01-05T00:00:00+01:00", "fix": null}
{"id": "a2", "service": "api", "title": "t", "body": "", "severity": "medium", "opened_at": "2020-01-03T00:00:00Z", "resolved_at": "2020-01-03T00:30:00.250Z", "fix": "pod restart"}
{"id": "c1", "service": "web", "title": "t", "body": "", "severity": "low", "opened_at": "2020-01-04T00:00:00Z", "resolved_at": null, "fix": null}

{"id": "a3", "service": "api", "title": "t", "body": "", "severity": "medium", "opened_at": "2020-02-20T00:00:00Z", "resolved_at": "2020-02-20T00:00:00Z", "fix": "rolled back the deploy"}
"#;

fn replay(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(["insights", "replay"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run causeloop");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn predictions(stdout: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("each line is JSON");
            let object = v.as_object().expect("an object");
            assert_eq!(object.len(), 2, "only id and p_recur: {line}");
            let p = object["p_recur"].as_f64().expect("p_recur is a number");
            assert!((0.0..=1.0).contains(&p), "{line}");
            (object["id"].as_str().expect("id is a string").to_string(), p)
        })
        .collect()
}

#[test]
fn replay_prints_one_probability_per_resolution_in_resolution_order() {
    let (ok, stdout, stderr) = replay(&["--horizon-days", "7"], INCIDENTS);
    assert!(ok, "{stderr}");
    let seven = predictions(&stdout);
    let ids: Vec<&str> = seven.iter().map(|(id, _)| id.as_str()).collect();
    // b1 is resolved 2020-01-04T23:00Z, after a2; c1 is never resolved.
    assert_eq!(ids, ["a1", "a2", "b1", "a3"]);

    let (ok, stdout, stderr) = replay(&["--horizon-days", "30"], INCIDENTS);
    assert!(ok, "{stderr}");
    let thirty = predictions(&stdout);
    for ((id7, p7), (id30, p30)) in seven.iter().zip(&thirty) {
        assert_eq!(id7, id30);
        assert!(p30 >= p7, "{id7}: 30 days {p30} < 7 days {p7}");
    }
    // The service that came back (api) is more likely to come back again than it was at first.
    assert!(seven[3].1 > seven[0].1, "{seven:?}");

    // Nothing later changes an earlier answer: the first three lines alone give the same output.
    let prefix: String = INCIDENTS.lines().take(3).map(|l| format!("{l}\n")).collect();
    let (ok, stdout, _) = replay(&["--horizon-days", "7"], &prefix);
    assert!(ok);
    assert_eq!(predictions(&stdout)[..2], seven[..2]);
}

#[test]
fn replay_rejects_bad_arguments_and_input() {
    let (ok, _, stderr) = replay(&["--horizon-days", "14"], INCIDENTS);
    assert!(!ok && stderr.contains("7 or 30"), "{stderr}");
    let (ok, _, stderr) = replay(&["--horizon-days", "7", "--model", "magic"], INCIDENTS);
    assert!(!ok, "{stderr}");
    let (ok, _, stderr) =
        replay(&["--horizon-days", "7"], "{\"id\": \"x\", \"service\": \"s\", \"opened_at\": \"yesterday\"}\n");
    assert!(!ok && stderr.contains("line 1") && stderr.contains("opened_at"), "{stderr}");
    let (ok, _, stderr) = replay(&["--horizon-days", "7"], "not json\n");
    assert!(!ok && stderr.contains("line 1"), "{stderr}");
    for model in ["outcomes", "rate-7", "rate-365", "logistic"] {
        let (ok, stdout, stderr) = replay(&["--horizon-days", "30", "--model", model, "--calibrate"], INCIDENTS);
        assert!(ok, "{model}: {stderr}");
        assert_eq!(predictions(&stdout).len(), 4);
    }
}
