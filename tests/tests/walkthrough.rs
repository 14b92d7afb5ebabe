//! The integration walkthrough (docs/custom-integration.md) followed verbatim against a real
//! server: the request bodies of its `curl` steps, its Python push functions (single and batch)
//! and its Node inbound sender are read out of the document itself, so the test breaks when the
//! document and the service disagree. Only the base URL, the `con_…` placeholder and the
//! endpoint URL (a real receiver on 127.0.0.1) are substituted.
//!
//! What the walkthrough promises: an outbound endpoint limited to the Deploy Monitor connector
//! receives `issue.ingested` for the pushed and the inbound Issues and `issue.batch_ingested`
//! for the batch, although the pushes name no connector; the connector's history and health
//! show every push.

use causeloop_tests::receiver::Receiver;
use causeloop_tests::{spawn_app, Backend, TestApp};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const DOC: &str = include_str!("../../docs/custom-integration.md");
const DOC_BASE: &str = "https://api.causeloop.ai";
const CONNECTOR_PLACEHOLDER: &str = "con_…";

/// The fenced code blocks of the document in `language`, in order.
fn code_blocks(language: &str) -> Vec<&'static str> {
    let fence = format!("```{language}\n");
    DOC.split(fence.as_str()).skip(1).map(|rest| &rest[..rest.find("```").expect("closed fence")]).collect()
}

/// The JSON body (`-d '…'`) of the document's `curl` request to `path` whose body mentions
/// `marker`.
fn curl_body(path: &str, marker: &str) -> Value {
    code_blocks("sh")
        .into_iter()
        .flat_map(|block| block.split("curl ").skip(1))
        .filter(|request| request.contains(&format!("{DOC_BASE}{path} ")) && request.contains(marker))
        .find_map(|request| {
            let start = request.find("-d '")? + 4;
            let end = start + request[start..].find('\'')?;
            Some(serde_json::from_str(&request[start..end]).expect("the document's body is JSON"))
        })
        .unwrap_or_else(|| panic!("no curl to {path} with {marker} in the walkthrough"))
}

/// A body of the document with the connector placeholder filled in.
fn with_connector(body: Value, connector_id: &str) -> Value {
    serde_json::from_str(&body.to_string().replace(CONNECTOR_PLACEHOLDER, connector_id)).unwrap()
}

const PYTHON_DRIVER: &str = r#"
import os
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

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(program).args(args).envs(env.iter().copied()).output().expect("run the sample");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{program} failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

async fn post_ok(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, answer) = app.post(path, &app.owner.key, body).await;
    assert_eq!(status, 201, "{path}: {answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_works_verbatim_and_delivers_what_it_promises() {
    let Some(venv) = std::env::var("CAUSELOOP_VENV").ok() else {
        assert!(std::env::var("CAUSELOOP_REQUIRE_MOTO").is_err(), "scripts/test.sh exports CAUSELOOP_VENV");
        eprintln!("CAUSELOOP_VENV not set: run scripts/test.sh for this test");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    app.start_delivery_worker();

    // 1. The connector.
    let connector = post_ok(&app, "/v1/connectors", &curl_body("/v1/connectors", "custom_api")).await;
    let connector_id = connector["id"].as_str().unwrap().to_string();

    // 4a (registered first, so that it sees steps 2 and 3): an endpoint limited to the connector.
    let mut outbound = with_connector(curl_body("/v1/webhooks", "event_types"), &connector_id);
    assert_eq!(outbound["connector_id"], connector_id.as_str(), "the walkthrough limits the endpoint");
    outbound["url"] = Value::String(receiver.url.clone());
    post_ok(&app, "/v1/webhooks", &outbound).await;

    // 2. The Python functions, as written, pushing one event and a batch without a connector_id.
    let python: Vec<&str> = code_blocks("python");
    assert_eq!(python.len(), 2, "step 2 has a single and a batch example");
    let script = format!("{}\n{}\n{PYTHON_DRIVER}", python[0], python[1]);
    let base = app.base.clone();
    let key = app.owner.key.clone();
    let python_bin = format!("{venv}/bin/python");
    let stdout = tokio::task::spawn_blocking(move || {
        run(&python_bin, &["-c", &script], &[("CAUSELOOP_BASE", &base), ("CAUSELOOP_KEY", &key)])
    })
    .await
    .unwrap();
    assert!(stdout.contains("accepted=2, rejected=0"), "{stdout}");
    let issue_id = stdout.lines().find_map(|line| line.strip_prefix("issue_id=")).unwrap().to_string();
    let (status, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(status, 200);
    assert_eq!(issue["title"], "Deploy failed: payment-service");
    assert_eq!(issue["service"], "payment-service", "taken from metadata.service");
    assert_eq!(issue["severity"], "p1");
    assert_eq!(issue["connector_id"], connector_id.as_str(), "the only custom_api connector's");
    let job_id = stdout.lines().find_map(|line| line.strip_prefix("job_id=")).unwrap().to_string();
    let job = app.wait_for_job(&job_id).await;
    assert_eq!(job["created"], 2);
    let (_, web) = app.get("/v1/issues?severity=p3", &app.owner.key).await;
    assert_eq!(web["data"][0]["source_created_at"], "2026-03-01T10:00:00.000Z", "normalized to UTC");
    assert_eq!(web["data"][0]["team"], Value::Null, "team: None is JSON null and absent");

    // 3a. The inbound registration; 3b. the Node sender, as written.
    let inbound =
        post_ok(&app, "/v1/webhooks", &with_connector(curl_body("/v1/webhooks", "inbound"), &connector_id)).await;
    let secret = inbound["signing_secret"].as_str().unwrap().to_string();
    let node = code_blocks("js");
    assert_eq!(node.len(), 1, "step 3b has one Node example");
    let sender = node[0].replace(DOC_BASE, &app.base).replace(CONNECTOR_PLACEHOLDER, &connector_id);
    tokio::task::spawn_blocking(move || run("node", &["-e", &sender], &[("CAUSELOOP_INBOUND_SECRET", &secret)]))
        .await
        .unwrap();
    let (_, deploys) = app.get("/v1/issues?source=custom_api&limit=10", &app.owner.key).await;
    let deploy = deploys["data"].as_array().unwrap().iter().find(|issue| issue["external_id"] == "DEPLOY-9999");
    let deploy = deploy.expect("the inbound event became an Issue");
    assert_eq!(deploy["title"], "deploy.failed: payment-service");
    assert_eq!(deploy["severity"], "p1");

    // 4. The endpoint receives what the walkthrough says, each event Deploy Monitor's.
    let expected = [("issue.ingested", 2), ("issue.batch_ingested", 1)];
    let mut received: Vec<Value> = Vec::new();
    for _ in 0..400 {
        received = receiver.requests().iter().map(|request| serde_json::from_slice(&request.body).unwrap()).collect();
        let count = |kind: &str| received.iter().filter(|event| event["event_type"] == kind).count();
        if expected.iter().all(|(kind, n)| count(kind) >= *n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (kind, n) in expected {
        let of_kind: Vec<&Value> = received.iter().filter(|event| event["event_type"] == kind).collect();
        assert_eq!(of_kind.len(), n, "{kind}: {received:?}");
        assert!(of_kind.iter().all(|event| event["connector_id"] == connector_id.as_str()), "{of_kind:?}");
    }
    let batch = received.iter().find(|event| event["event_type"] == "issue.batch_ingested").unwrap();
    assert_eq!(batch["data"]["job_id"], job_id.as_str());

    // The connector's history and health show all three pushes.
    let (_, history) = app.get(&format!("/v1/connectors/{connector_id}/syncs"), &app.owner.key).await;
    let mut kinds: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["batch", "inbound", "push"], "{history}");
    let batch_entry = history["data"].as_array().unwrap().iter().find(|e| e["kind"] == "batch").unwrap();
    assert_eq!(batch_entry["records"], 2);
    let (_, health) = app.get("/v1/integrations/health", &app.owner.key).await;
    let ours = health["connectors"].as_array().unwrap().iter().find(|c| c["id"] == connector_id.as_str()).unwrap();
    assert_eq!((ours["events_24h"].as_u64(), ours["errors_24h"].as_u64()), (Some(3), Some(0)), "{ours}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_name_their_connector_only_when_it_is_unambiguous_or_exists() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let key = &app.owner.key;
    let first = post_ok(&app, "/v1/connectors", &curl_body("/v1/connectors", "custom_api")).await;
    let record = |external_id: &str| serde_json::json!({"source": "custom_api", "external_id": external_id, "title": "Deploy failed: api"});
    let (status, one) = app.post("/v1/ingest/events", key, &record("a")).await;
    assert_eq!(status, 202, "{one}");
    let (_, issue) = app.get(&format!("/v1/issues/{}", one["issue_id"].as_str().unwrap()), key).await;
    assert_eq!(issue["connector_id"], first["id"]);

    // A second custom_api connector: an unnamed record belongs to neither.
    let second_body = serde_json::json!({"type": "custom_api", "display_name": "Second", "credentials": {}});
    let second = post_ok(&app, "/v1/connectors", &second_body).await;
    let (_, two) = app.post("/v1/ingest/events", key, &record("b")).await;
    let (_, issue) = app.get(&format!("/v1/issues/{}", two["issue_id"].as_str().unwrap()), key).await;
    assert_eq!(issue["connector_id"], Value::Null, "{issue}");

    // Named explicitly, it is kept; a connector the workspace lacks is refused, and in a batch
    // only that record is.
    let mut named = record("c");
    named["connector_id"] = second["id"].clone();
    let (status, three) = app.post("/v1/ingest/events", key, &named).await;
    assert_eq!(status, 202, "{three}");
    let (_, issue) = app.get(&format!("/v1/issues/{}", three["issue_id"].as_str().unwrap()), key).await;
    assert_eq!(issue["connector_id"], second["id"]);
    let mut foreign = record("d");
    foreign["connector_id"] = Value::String("con_00000000000000000000000000".into());
    let (status, refused) = app.post("/v1/ingest/events", key, &foreign).await;
    assert_eq!(
        (status, refused["error"].as_str(), refused["field"].as_str()),
        (400, Some("unknown_connector"), Some("connector_id"))
    );
    let (status, batch) = app.post("/v1/ingest/batch", key, &serde_json::json!({"records": [named, foreign]})).await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["accepted"], 1);
    assert_eq!(
        (batch["rejected"][0]["index"].as_u64(), batch["rejected"][0]["error"].as_str()),
        (Some(1), Some("unknown_connector"))
    );
}
