//! The Python examples of the walkthrough (docs/custom-integration.md, step 2: single push and
//! batch push), byte for byte, against a real server. The functions are the document's own text;
//! only `httpx.post` is pointed at the local server. Keep the two in step.

use causeloop_tests::{spawn_app, Backend};
use std::process::Command;

const WALKTHROUGH_CLIENT: &str = r#"
import httpx
CAUSELOOP_TOKEN = "..."
def push_deployment_failure(deploy_id: str, service: str, error: str):
    resp = httpx.post(
        "https://api.causeloop.ai/v1/ingest/events",
        headers={"Authorization": f"Bearer {CAUSELOOP_TOKEN}"},
        json={
            "source": "custom_api",
            "external_id": f"deploy-{deploy_id}",
            "title": f"Deploy failed: {service}",
            "body": error,
            "severity": "p1",
            "external_url": f"https://deploys.example.com/{deploy_id}",
            "metadata": {
                "service": service,
                "deploy_id": deploy_id,
            },
        },
    )
    resp.raise_for_status()
    return resp.json()["issue_id"]
def push_deploy_batch(failures: list[dict]):
    records = [
        {
            "external_id": f"deploy-{f['id']}",
            "source": "custom_api",
            "title": f"Deploy failed: {f['service']}",
            "body": f['error'],
            "severity": f.get("severity", "p2"),
            "team": f.get("team"),
            "source_created_at": f["timestamp"],
        }
        for f in failures
    ]
    resp = httpx.post(
        "https://api.causeloop.ai/v1/ingest/batch",
        headers={"Authorization": f"Bearer {CAUSELOOP_TOKEN}"},
        json={"records": records},
    )
    resp.raise_for_status()
    result = resp.json()
    print(f"accepted={result['accepted']}, rejected={len(result['rejected'])}")
    return result["job_id"]
"#;

const DRIVER: &str = r#"
import os, sys
_real_post = httpx.post
def _local_post(url, **kwargs):
    return _real_post(url.replace("https://api.causeloop.ai", os.environ["CAUSELOOP_BASE"]), **kwargs)
httpx.post = _local_post
CAUSELOOP_TOKEN = os.environ["CAUSELOOP_KEY"]
issue_id = push_deployment_failure("9999", "payment-service", "exit code 137: OOMKilled")
print("issue_id=" + issue_id)
job_id = push_deploy_batch([
    {"id": "1", "service": "api", "error": "timeout", "timestamp": "2026-03-01T10:00:00Z", "team": "core"},
    {"id": "2", "service": "web", "error": "crash", "timestamp": "2026-03-01T11:00:00+01:00", "severity": "p3"},
])
print("job_id=" + job_id)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_python_examples_work_unchanged() {
    let Some(venv) = std::env::var("CAUSELOOP_VENV").ok() else {
        assert!(std::env::var("CAUSELOOP_REQUIRE_MOTO").is_err(), "scripts/test.sh exports CAUSELOOP_VENV");
        eprintln!("CAUSELOOP_VENV not set: run scripts/test.sh for this test");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let script = format!("{WALKTHROUGH_CLIENT}\n{DRIVER}");
    let base = app.base.clone();
    let key = app.owner.key.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(format!("{venv}/bin/python"))
            .arg("-c")
            .arg(script)
            .env("CAUSELOOP_BASE", base)
            .env("CAUSELOOP_KEY", key)
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "walkthrough client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("accepted=2, rejected=0"), "{stdout}");
    let issue_id = stdout.lines().find_map(|line| line.strip_prefix("issue_id=")).unwrap();
    let (status, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(status, 200);
    assert_eq!(issue["title"], "Deploy failed: payment-service");
    assert_eq!(issue["service"], "payment-service", "taken from metadata.service");
    assert_eq!(issue["severity"], "p1");
    let job_id = stdout.lines().find_map(|line| line.strip_prefix("job_id=")).unwrap();
    let job = app.wait_for_job(job_id).await;
    assert_eq!(job["created"], 2);
    let (_, web) = app.get("/v1/issues?severity=p3", &app.owner.key).await;
    assert_eq!(web["data"][0]["source_created_at"], "2026-03-01T10:00:00.000Z", "normalized to UTC");
    assert_eq!(web["data"][0]["team"], serde_json::Value::Null, "team: None is JSON null and absent");
}
