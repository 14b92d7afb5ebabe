//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by
//! `scripts/test-deps.sh`) notifying the real server: its `webhook_config` posts to
//! `/v1/webhooks/{workspace}/alertmanager` with the API key as `http_config.authorization`
//! (Bearer), exactly as docs/monitoring-tools.md tells users to configure it. Alerts are pushed into
//! Alertmanager's API v2; the test waits (bounded liveness loops, no timing assertions) until
//! the Issues appear, then resolves the alerts and waits until the Issues are resolved.
//!
//! Outside `scripts/test.sh` the test is skipped when no Alertmanager is installed; under it
//! (`CAUSELOOP_REQUIRE_MOTO` set, dependencies installed) a missing binary is a failure.

use causeloop_tests::{spawn_app, Backend, TestApp};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BINARIES: &[&str] = &["prometheus-alertmanager", "alertmanager"];

fn alertmanager_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| BINARIES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the Alertmanager this test started, however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(webhook_url: &str, key: &str) -> String {
    // Short group timers so that notifications follow within seconds; one group per alertname,
    // so both instances below arrive in one notification.
    format!(
        r#"route:
  receiver: causeloop
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: causeloop
    webhook_configs:
      - url: "{webhook_url}"
        send_resolved: true
        max_alerts: 100
        http_config:
          authorization:
            type: Bearer
            credentials: "{key}"
"#
    )
}

fn alert(instance: &str, ends_at: &str) -> Value {
    json!({
        "labels": {"alertname": "DiskAlmostFull", "instance": instance, "severity": "critical", "service": "postgres"},
        "annotations": {"summary": format!("Disk almost full on {instance}"), "description": "Less than 5% free on /var/lib/postgresql."},
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk_free_ratio",
        "endsAt": ends_at,
    })
}

async fn alertmanager_issues(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/v1/issues?source=alertmanager&limit=50", &app.owner.key).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// Polls until `done` holds for the Issues, with a generous ceiling (a liveness wait).
async fn wait_for_issues(app: &TestApp, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut issues = Vec::new();
    for _ in 0..600 {
        issues = alertmanager_issues(app).await;
        if done(&issues) {
            return issues;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never happened; issues: {issues:?}");
}

fn rfc3339_from_now(offset_secs: i64) -> String {
    let now = causeloop_domain::time_fmt::parse_rfc3339(&causeloop_storage::clock::now_rfc3339()).unwrap();
    let at = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    causeloop_domain::time_fmt::format_rfc3339(at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_alertmanager_opens_and_resolves_issues() {
    let Some(binary) = alertmanager_binary() else {
        assert!(
            std::env::var_os("CAUSELOOP_REQUIRE_MOTO").is_none(),
            "scripts/test-deps.sh installs prometheus-alertmanager; it is missing"
        );
        eprintln!("skipping: no prometheus-alertmanager on PATH (scripts/test-deps.sh installs it)");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let webhook_url = app.url(&format!("/v1/webhooks/{}/alertmanager", app.owner.workspace_id));
    let config_path = dir.path().join("alertmanager.yml");
    std::fs::write(&config_path, config(&webhook_url, &app.owner.key)).unwrap();
    let api = format!("127.0.0.1:{}", free_port());
    let _alertmanager = Running(
        Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={api}"))
            // An empty address turns clustering (and its fixed port 9094) off.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );

    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if http.get(format!("http://{api}/-/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "alertmanager never became ready at {api}");

    let post_alerts = |alerts: Value| {
        let http = http.clone();
        let url = format!("http://{api}/api/v2/alerts");
        async move {
            let response = http.post(url).json(&alerts).send().await.expect("post alerts");
            assert!(response.status().is_success(), "alertmanager refused the alerts: {}", response.status());
        }
    };

    let firing_until = rfc3339_from_now(3600);
    post_alerts(json!([alert("db-1", &firing_until), alert("db-2", &firing_until)])).await;
    let opened = wait_for_issues(&app, "two open Issues", |issues| {
        issues.len() == 2 && issues.iter().all(|issue| issue["status"] == "open")
    })
    .await;
    for issue in &opened {
        assert_eq!(issue["severity"], "p1");
        assert_eq!(issue["service"], "postgres");
        assert!(issue["title"].as_str().unwrap().starts_with("Disk almost full on db-"));
        assert_eq!(issue["metadata"]["tags"]["alertname"], "DiskAlmostFull");
    }

    // endsAt in the past resolves the alerts; Alertmanager sends the resolved notification.
    let ended = rfc3339_from_now(-60);
    post_alerts(json!([alert("db-1", &ended), alert("db-2", &ended)])).await;
    let resolved = wait_for_issues(&app, "both Issues resolved", |issues| {
        issues.len() == 2 && issues.iter().all(|issue| issue["status"] == "resolved")
    })
    .await;
    let mut opened_ids: Vec<&Value> = opened.iter().map(|issue| &issue["id"]).collect();
    let mut resolved_ids: Vec<&Value> = resolved.iter().map(|issue| &issue["id"]).collect();
    opened_ids.sort_by_key(|id| id.to_string());
    resolved_ids.sort_by_key(|id| id.to_string());
    assert_eq!(opened_ids, resolved_ids, "the fingerprint keeps each alert on its Issue");

    let events = app.drain_events().await;
    let resolutions = events.iter().filter(|event| event["event_type"] == "issue.resolved").count();
    assert_eq!(resolutions, 2, "one issue.resolved per alert");
}
