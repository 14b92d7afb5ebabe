//! The inbound receiver over real HTTP, on both backends: the walkthrough's Node signing snippet run by
//! Node itself, Python's hmac, bytes that differ from the signed ones, every 401 case with one
//! identical body, bad input judged only after the signature, rotation with a grace period, the
//! Deploy Monitor event mapping, deduplication, and the sync history.

use causeloop_tests::integrations::sign;
use causeloop_tests::{both_backends, TestApp};
use serde_json::{json, Value};

/// The walkthrough's event, serialized as Node's `JSON.stringify` does (no spaces, insertion order).
const WALKTHROUGH_EVENT: &str =
    r#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-9999","service":"payment-service","severity":"p1"}"#;

/// A connector with inbound delivery enabled: (connector id, signing secret).
async fn inbound_connector(app: &TestApp) -> (String, String) {
    let connector = app.create_custom_connector(&app.owner.key, "Deploy Monitor").await;
    let id = connector["id"].as_str().unwrap().to_string();
    let registration = app.enable_inbound(&app.owner.key, &id).await;
    (id, registration["signing_secret"].as_str().unwrap().to_string())
}

/// Runs a program and returns its stdout; panics with its stderr when it fails.
async fn run(program: &str, args: Vec<String>, env: Vec<(&'static str, String)>) -> String {
    let program = program.to_string();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(&program).args(&args).envs(env).output().expect("spawn");
        assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// The walkthrough's snippet (docs/custom-integration.md, step 3b), verbatim but for the URL and
/// the final call (which reports the status).
const NODE_SNIPPET: &str = r#"
const crypto = require('crypto');
const CAUSELOOP_SECRET = process.env.CAUSELOOP_INBOUND_SECRET;
const CAUSELOOP_URL = process.env.CAUSELOOP_URL;
async function sendToCauseloop(event) {
  const body = JSON.stringify(event);
  const signature = crypto
    .createHmac('sha256', CAUSELOOP_SECRET)
    .update(body)
    .digest('hex');
  const resp = await fetch(CAUSELOOP_URL, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'x-causeloop-signature': signature,
    },
    body,
  });
  if (!resp.ok) throw new Error(`Causeloop rejected: ${resp.status}`);
  return resp.json();
}
sendToCauseloop({
  event_type: 'deploy.failed',
  deploy_id: 'DEPLOY-9999',
  service: 'payment-service',
  severity: 'p1',
}).then((answer) => console.log(JSON.stringify(answer)), (err) => { console.error(err.message); process.exit(1); });
"#;

async fn the_walkthrough_node_snippet_is_accepted(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let url = app.url(&format!("/v1/webhooks/inbound/{connector_id}"));
    let stdout = run(
        "node",
        vec!["-e".into(), NODE_SNIPPET.into()],
        vec![("CAUSELOOP_INBOUND_SECRET", secret.clone()), ("CAUSELOOP_URL", url)],
    )
    .await;
    let answer: Value = serde_json::from_str(stdout.trim()).expect("node printed the JSON answer");
    assert_eq!(answer["status"], "created", "{answer}");
    let issue_id = answer["issue_id"].as_str().unwrap().to_string();

    let (status, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(status, 200, "{issue}");
    assert_eq!(issue["title"], "deploy.failed: payment-service");
    assert_eq!(issue["external_id"], "DEPLOY-9999");
    assert_eq!(issue["severity"], "p1");
    assert_eq!(issue["service"], "payment-service");
    assert_eq!(issue["connector_id"], connector_id.as_str());

    // The same signed bytes again (our own HMAC over Node's exact bytes) are a replay: answered
    // like the first delivery, and nothing changes.
    let again = app
        .post_inbound(&connector_id, WALKTHROUGH_EVENT.as_bytes(), Some(&sign(&secret, WALKTHROUGH_EVENT.as_bytes())))
        .await;
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["issue_id"], issue_id.as_str());
    assert_eq!(again.json()["status"], "created");
    let (_, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(issue["occurrences"], 1);
    // A new occurrence of the same event says so in its body: the same Issue, counted again.
    let next = br#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-9999","service":"payment-service","severity":"p1","attempt":2}"#;
    let again = app.post_inbound(&connector_id, next, Some(&sign(&secret, next))).await;
    assert_eq!(
        (again.json()["issue_id"].as_str(), again.json()["status"].as_str()),
        (Some(issue_id.as_str()), Some("updated"))
    );
    let (_, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(issue["occurrences"], 2);
    let (_, issues) = app.get("/v1/issues?source=custom_api", &app.owner.key).await;
    assert_eq!(issues["data"].as_array().unwrap().len(), 1, "one Issue for one event");

    // Every authenticated delivery (the replay too) is in the connector's sync history, newest first.
    let (status, history) = app.get(&format!("/v1/connectors/{connector_id}/syncs"), &app.owner.key).await;
    assert_eq!(status, 200, "{history}");
    let records = history["data"].as_array().unwrap();
    assert_eq!(records.len(), 3, "{history}");
    for record in records {
        assert_eq!((record["kind"].as_str(), record["outcome"].as_str()), (Some("inbound"), Some("success")));
        assert_eq!(record["issue_id"], issue_id.as_str());
        assert!(record["id"].as_str().unwrap().starts_with("syn_"));
        assert!(record["at"].is_string());
    }
}
both_backends!(the_walkthrough_node_snippet_signs_what_the_receiver_verifies, the_walkthrough_node_snippet_is_accepted);

const PYTHON_SENDER: &str = r#"
import hashlib, hmac, os, sys, urllib.request
raw_body = b'{"event_type": "deploy.rolled_back", "rollback_id": "RB-7", "service": "checkout"}'
secret = os.environ["SECRET"]
signature = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
request = urllib.request.Request(os.environ["URL"], data=raw_body, method="POST",
    headers={"Content-Type": "application/json", "x-causeloop-signature": signature})
with urllib.request.urlopen(request) as response:
    sys.stdout.write(str(response.status) + " " + response.read().decode())
"#;

async fn pythons_hmac_is_accepted(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let url = app.url(&format!("/v1/webhooks/inbound/{connector_id}"));
    let stdout = run("python3", vec!["-c".into(), PYTHON_SENDER.into()], vec![("SECRET", secret), ("URL", url)]).await;
    let (status, answer) = stdout.split_once(' ').unwrap();
    assert_eq!(status, "202", "{stdout}");
    let answer: Value = serde_json::from_str(answer).unwrap();
    let (_, issue) = app.get(&format!("/v1/issues/{}", answer["issue_id"].as_str().unwrap()), &app.owner.key).await;
    assert_eq!(
        (issue["title"].as_str(), issue["external_id"].as_str()),
        (Some("deploy.rolled_back: checkout"), Some("RB-7"))
    );
}
both_backends!(pythons_hmac_signs_what_the_receiver_verifies, pythons_hmac_is_accepted);

async fn every_failure_is_one_identical_401(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let body = WALKTHROUGH_EVENT.as_bytes();
    let good = sign(&secret, body);

    // A body re-serialized with spaces is the same JSON but not the signed bytes.
    let respaced = serde_json::to_string_pretty(&serde_json::from_str::<Value>(WALKTHROUGH_EVENT).unwrap()).unwrap();
    let reference = app.post_inbound(&connector_id, respaced.as_bytes(), Some(&good)).await;
    assert_eq!(reference.status, 401);
    assert_eq!(reference.json()["error"], "invalid_signature");

    let wrong_secret = sign("whsec_not-the-secret", body);
    let unknown_connector = format!("con_{}", "0".repeat(26));
    let mut cases: Vec<(&str, String, Option<String>, Vec<u8>)> = vec![
        ("missing header", connector_id.clone(), None, body.to_vec()),
        ("empty header", connector_id.clone(), Some(String::new()), body.to_vec()),
        ("too short", connector_id.clone(), Some(good[..63].to_string()), body.to_vec()),
        ("too long", connector_id.clone(), Some(format!("{good}00")), body.to_vec()),
        ("bad hex", connector_id.clone(), Some(format!("{}zz", &good[..62])), body.to_vec()),
        ("wrong secret", connector_id.clone(), Some(wrong_secret), body.to_vec()),
        ("sha256= prefix", connector_id.clone(), Some(format!("sha256={good}")), body.to_vec()),
        ("unknown connector", unknown_connector.clone(), Some(sign(&secret, body)), body.to_vec()),
        ("malformed connector id", "con_nope".into(), Some(good.clone()), body.to_vec()),
        // Bad JSON with a bad signature: authentication comes first.
        ("bad json, bad signature", connector_id.clone(), Some(good.clone()), b"{not json".to_vec()),
    ];

    // A connector without an inbound registration has no secret.
    let bare = app.create_custom_connector(&app.owner.key, "No secret").await;
    let bare_id = bare["id"].as_str().unwrap().to_string();
    cases.push(("no secret", bare_id, Some(good.clone()), body.to_vec()));

    // Another workspace's connector signed with our secret.
    let stranger = app.key("inbound-stranger", "connectors:admin,webhooks:admin").await;
    let theirs = app.create_custom_connector(&stranger.key, "Theirs").await;
    let theirs_id = theirs["id"].as_str().unwrap().to_string();
    app.enable_inbound(&stranger.key, &theirs_id).await;
    cases.push(("another connector's secret", theirs_id, Some(good.clone()), body.to_vec()));

    for (name, connector, signature, body) in &cases {
        let answer = app.post_inbound(connector, body, signature.as_deref()).await;
        assert_eq!(answer.status, 401, "{name}");
        assert_eq!(answer.body, reference.body, "{name}: the 401 body must not tell the cases apart");
    }

    // Disabled connector, then disabled registration, then deleted connector: same 401.
    let path = format!("/v1/connectors/{connector_id}");
    assert_eq!(app.patch(&path, &app.owner.key, &json!({"enabled": false})).await.0, 200);
    let answer = app.post_inbound(&connector_id, body, Some(&good)).await;
    assert_eq!((answer.status, &answer.body), (401, &reference.body), "disabled connector");
    assert_eq!(app.patch(&path, &app.owner.key, &json!({"enabled": true})).await.0, 200);
    assert_eq!(app.post_inbound(&connector_id, body, Some(&good)).await.status, 202, "re-enabled");

    let (_, connector) = app.get(&path, &app.owner.key).await;
    let webhook_path = format!("/v1/webhooks/{}", connector["inbound_webhook_id"].as_str().unwrap());
    assert_eq!(app.patch(&webhook_path, &app.owner.key, &json!({"enabled": false})).await.0, 200);
    let answer = app.post_inbound(&connector_id, body, Some(&good)).await;
    assert_eq!((answer.status, &answer.body), (401, &reference.body), "disabled registration");
    assert_eq!(app.patch(&webhook_path, &app.owner.key, &json!({"enabled": true})).await.0, 200);

    assert_eq!(app.delete(&path, &app.owner.key).await.0, 204);
    let answer = app.post_inbound(&connector_id, body, Some(&good)).await;
    assert_eq!((answer.status, &answer.body), (401, &reference.body), "deleted connector");
}
both_backends!(every_authentication_failure_is_one_identical_401, every_failure_is_one_identical_401);

async fn bad_input_is_judged_after_the_signature(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let check = |body: Vec<u8>| {
        let signature = sign(&secret, &body);
        let app = &app;
        let connector_id = connector_id.clone();
        async move { app.post_inbound(&connector_id, &body, Some(&signature)).await }
    };
    let answer = check(b"{not json".to_vec()).await;
    assert_eq!((answer.status, answer.json()["error"].as_str()), (400, Some("invalid_json")));
    let answer = check(b"[1, 2]".to_vec()).await;
    assert_eq!((answer.status, answer.json()["error"].as_str()), (400, Some("not_an_object")));
    let answer = check(b"   ".to_vec()).await;
    assert_eq!(answer.status, 400);
    let mut oversize = br#"{"padding": ""#.to_vec();
    oversize.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 1));
    oversize.extend(br#""}"#);
    let answer = check(oversize.clone()).await;
    assert_eq!((answer.status, answer.json()["error"].as_str()), (413, Some("body_too_large")));
    // The same oversize body unsigned is refused as unauthenticated, not as too large.
    assert_eq!(app.post_inbound(&connector_id, &oversize, None).await.status, 401);

    let wrong_type = app
        .http
        .post(app.url(&format!("/v1/webhooks/inbound/{connector_id}")))
        .header("content-type", "text/plain")
        .header("x-causeloop-signature", sign(&secret, WALKTHROUGH_EVENT.as_bytes()))
        .body(WALKTHROUGH_EVENT)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status().as_u16(), 415);

    // Authenticated failures are in the history with their error; nothing became an Issue.
    let (_, history) = app.get(&format!("/v1/connectors/{connector_id}/syncs?limit=50"), &app.owner.key).await;
    let records = history["data"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{history}");
    assert!(records.iter().all(|record| record["outcome"] == "failure" && record["issue_id"].is_null()));
    assert!(records.iter().any(|record| record["error"].as_str().unwrap().starts_with("invalid_json")));
    let (_, issues) = app.get("/v1/issues", &app.owner.key).await;
    assert_eq!(issues["data"].as_array().unwrap().len(), 0);

    // Health counts them as the last 24 hours' errors.
    let (status, health) = app.get("/v1/integrations/health", &app.owner.key).await;
    assert_eq!(status, 200, "{health}");
    let entry = health["connectors"].as_array().unwrap().iter().find(|c| c["id"] == connector_id.as_str()).unwrap();
    assert_eq!((entry["errors_24h"].as_u64(), entry["events_24h"].as_u64()), (Some(5), Some(5)), "{entry}");
    assert_eq!(entry["last_outcome"], "failure");
    assert_eq!(entry["inbound_enabled"], true);
}
both_backends!(bad_input_is_refused_only_after_the_signature_checks, bad_input_is_judged_after_the_signature);

async fn rotation_keeps_the_old_secret_for_the_grace_period(app: TestApp) {
    let (connector_id, first) = inbound_connector(&app).await;
    let (_, connector) = app.get(&format!("/v1/connectors/{connector_id}"), &app.owner.key).await;
    let rotate_path = format!("/v1/webhooks/{}/rotate", connector["inbound_webhook_id"].as_str().unwrap());
    let body = WALKTHROUGH_EVENT.as_bytes();

    // Rotation accepts connectors:admin (docs/api-contract.md, "Scopes"); a read-only key cannot.
    let reader = app.key(&app.owner_slug, "webhooks:read,connectors:read").await;
    let (status, refused) = app.post(&rotate_path, &reader.key, &json!({})).await;
    assert_eq!((status, refused["error"].as_str()), (403, Some("insufficient_scope")));
    let connectors_admin = app.key(&app.owner_slug, "connectors:admin").await;
    let (status, rotated) = app.post(&rotate_path, &connectors_admin.key, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(rotated["grace_period_seconds"], 24 * 3600);
    assert!(rotated["previous_secret_expires_at"].is_string());

    // During the grace period both secrets verify.
    assert_eq!(app.post_inbound(&connector_id, body, Some(&sign(&first, body))).await.status, 202, "old secret");
    assert_eq!(app.post_inbound(&connector_id, body, Some(&sign(&second, body))).await.status, 202, "new secret");

    // A rotation with no grace revokes every earlier secret at once.
    let (status, rotated) = app.post(&rotate_path, &app.owner.key, &json!({"grace_period_seconds": 0})).await;
    assert_eq!(status, 200, "{rotated}");
    let third = rotated["signing_secret"].as_str().unwrap().to_string();
    assert!(rotated["previous_secret_expires_at"].is_null());
    assert_eq!(app.post_inbound(&connector_id, body, Some(&sign(&first, body))).await.status, 401, "first, expired");
    assert_eq!(app.post_inbound(&connector_id, body, Some(&sign(&second, body))).await.status, 401, "second, expired");
    assert_eq!(app.post_inbound(&connector_id, body, Some(&sign(&third, body))).await.status, 202, "current");

    // Rotating again and again within the grace keeps only the latest few replaced secrets.
    let mut secrets = vec![third];
    for _ in 0..5 {
        let (status, rotated) = app.post(&rotate_path, &app.owner.key, &json!({})).await;
        assert_eq!(status, 200, "{rotated}");
        secrets.push(rotated["signing_secret"].as_str().unwrap().to_string());
    }
    for (age, secret) in secrets.iter().rev().enumerate() {
        let expected = if age <= causeloop_api::webhooks::MAX_PREVIOUS_SECRETS { 202 } else { 401 };
        let status = app.post_inbound(&connector_id, body, Some(&sign(secret, body))).await.status;
        assert_eq!(status, expected, "the secret replaced {age} rotations ago");
    }

    // JSON has one number type: 3600.0 is the integer 3600; 0.5 is no integer.
    let (status, rotated) = app.post(&rotate_path, &app.owner.key, &json!({"grace_period_seconds": 3600.0})).await;
    assert_eq!((status, rotated["grace_period_seconds"].as_i64()), (200, Some(3600)), "{rotated}");
    for bad in [json!(-1), json!(0.5), json!("60")] {
        let (status, refused) = app.post(&rotate_path, &app.owner.key, &json!({"grace_period_seconds": bad})).await;
        assert_eq!((status, refused["field"].as_str()), (400, Some("grace_period_seconds")), "{bad}");
    }
}
both_backends!(
    rotation_keeps_both_secrets_valid_during_the_grace_period,
    rotation_keeps_the_old_secret_for_the_grace_period
);

async fn a_connector_mapping_redirects_fields(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let mapping = json!({"config": {"field_mapping": {"title": "/alert/summary", "external_id": "/alert/key", "severity": "/alert/level"}}});
    let (status, updated) = app.patch(&format!("/v1/connectors/{connector_id}"), &app.owner.key, &mapping).await;
    assert_eq!(status, 200, "{updated}");
    let body = br#"{"alert":{"summary":"Checkout latency above SLO","key":"ALERT-42","level":"critical"}}"#;
    let answer = app.post_inbound(&connector_id, body, Some(&sign(&secret, body))).await;
    assert_eq!(answer.status, 202);
    let (_, issue) =
        app.get(&format!("/v1/issues/{}", answer.json()["issue_id"].as_str().unwrap()), &app.owner.key).await;
    assert_eq!(
        (issue["title"].as_str(), issue["external_id"].as_str(), issue["severity"].as_str()),
        (Some("Checkout latency above SLO"), Some("ALERT-42"), Some("p1"))
    );

    let bad = json!({"config": {"field_mapping": {"title": "alert.summary"}}});
    let (status, refused) = app.patch(&format!("/v1/connectors/{connector_id}"), &app.owner.key, &bad).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("config.field_mapping.title")));
}
both_backends!(a_connector_field_mapping_overrides_the_defaults, a_connector_mapping_redirects_fields);

/// A captured delivery replayed later takes no effect: after the Issue was resolved by a newer
/// event, replaying the old "firing" bytes neither reopens it nor counts an occurrence.
async fn a_replay_changes_nothing(app: TestApp) {
    let (connector_id, secret) = inbound_connector(&app).await;
    let firing =
        br#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-7","service":"api","at":"2026-11-01T10:00:00Z"}"#;
    let resolved = br#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-7","service":"api","status":"resolved","at":"2026-11-01T10:05:00Z"}"#;
    let first = app.post_inbound(&connector_id, firing, Some(&sign(&secret, firing))).await;
    assert_eq!(first.json()["status"], "created");
    let issue_id = first.json()["issue_id"].as_str().unwrap().to_string();
    let closed = app.post_inbound(&connector_id, resolved, Some(&sign(&secret, resolved))).await;
    assert_eq!(closed.status, 202);
    let (_, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!((issue["status"].as_str(), issue["occurrences"].as_u64()), (Some("resolved"), Some(2)), "{issue}");

    for _ in 0..3 {
        let replay = app.post_inbound(&connector_id, firing, Some(&sign(&secret, firing))).await;
        assert_eq!((replay.status, replay.json()["status"].as_str()), (202, Some("created")));
    }
    let (_, issue) = app.get(&format!("/v1/issues/{issue_id}"), &app.owner.key).await;
    assert_eq!(
        (issue["status"].as_str(), issue["occurrences"].as_u64(), issue["recurrences"].as_u64()),
        (Some("resolved"), Some(2), Some(0)),
        "a replay reopened or counted: {issue}"
    );
}
both_backends!(a_replayed_inbound_delivery_changes_nothing, a_replay_changes_nothing);
