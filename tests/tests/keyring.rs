//! The master keyring, on both backends: a rotation with `reseal_all` moves every stored secret
//! (inbound and outbound signing secrets with their grace-period predecessors, connector
//! credentials, OAuth tokens and a pending verifier) under the new key, after which the old key
//! can leave the ring; before that, a ring without the old key refuses clearly instead of
//! answering 401; and with no keyring at all, a request that could never authenticate still
//! gets its 401.

use causeloop_api::secrets::{
    open_credentials, open_current_secret, open_oauth_tokens, open_oauth_verifier, open_valid_secrets, reseal_all,
    seal_oauth_tokens, seal_oauth_verifier, OAuthTokens,
};
use causeloop_api::state::Settings;
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::{ConnectorId, WebhookId};
use causeloop_storage::connectors::{OAuthGrant, PendingOAuth};
use causeloop_tests::integrations::sign;
use causeloop_tests::{both_backends, spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;

const EVENT: &[u8] = br#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-1","service":"payment-service"}"#;

async fn post_inbound(app: &TestApp, base: &str, connector_id: &str, signature: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{base}/v1/webhooks/inbound/{connector_id}"))
        .header("content-type", "application/json")
        .body(EVENT.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-causeloop-signature", signature);
    }
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn with_ring(ring: Option<SecretBox>) -> Settings {
    Settings { allow_private_targets: true, secret_box: ring, ..Settings::default() }
}

async fn a_rotation_reseals_every_stored_secret(app: TestApp) {
    let old = SecretBox::new(OLD_KEY);
    assert_eq!(app.state.settings.secret_box.as_ref().map(SecretBox::current_key_id), Some(old.current_key_id()));
    let store = &app.state.store;
    let workspace = app.owner.workspace_id.clone();

    // Everything that holds a sealed value, sealed under the old key.
    let inbound = app.create_custom_connector(&app.owner.key, "Deploy Monitor").await;
    let inbound_id = inbound["id"].as_str().unwrap().to_string();
    let registration = app.enable_inbound(&app.owner.key, &inbound_id).await;
    let first_secret = registration["signing_secret"].as_str().unwrap().to_string();
    let inbound_webhook = registration["id"].as_str().unwrap().to_string();
    let (status, rotated) =
        app.post(&format!("/v1/webhooks/{inbound_webhook}/rotate"), &app.owner.key, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let second_secret = rotated["signing_secret"].as_str().unwrap().to_string();
    let (status, endpoint) = app
        .post(
            "/v1/webhooks",
            &app.owner.key,
            &json!({"url": "https://hooks.example.com/causeloop", "event_types": ["issue.ingested"]}),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = WebhookId::parse(endpoint["id"].as_str().unwrap()).unwrap();
    let credentials = json!({"api_key": "dd-api-key-1", "application_key": "dd-app-key-1"});
    let (status, datadog) = app
        .post(
            "/v1/connectors",
            &app.owner.key,
            &json!({"type": "datadog", "display_name": "Datadog", "credentials": credentials}),
        )
        .await;
    assert_eq!(status, 201, "{datadog}");
    let datadog_id = ConnectorId::parse(datadog["id"].as_str().unwrap()).unwrap();
    let tokens =
        OAuthTokens { access_token: "at-1".into(), refresh_token: Some("rt-1".into()), expires_at_millis: None };
    let stored = store.connector(&workspace, &datadog_id).await.unwrap().unwrap();
    let mut connector = stored.value;
    connector.oauth = Some(OAuthGrant {
        sealed_tokens: Some(seal_oauth_tokens(&old, &workspace, &datadog_id, &tokens)),
        api_base: None,
        pending: Some(PendingOAuth {
            state_hash: "0".repeat(64),
            sealed_verifier: seal_oauth_verifier(&old, &datadog_id, "verifier-1"),
            redirect_uri: "https://causeloop.example/v1/oauth/callback".into(),
            expires_at_millis: i64::MAX,
        }),
    });
    store.save_connector(&connector, stored.version).await.unwrap();

    // The new key joins in front; the old one stays, so nothing stops working meanwhile.
    let new_key: [u8; 32] = rand::random();
    let old_key_id = old.current_key_id().to_string();
    let both = SecretBox::from_keys(&[new_key, OLD_KEY]).unwrap();
    let new_only = SecretBox::new(new_key);
    let both_base = app.serve_with(with_ring(Some(both.clone()))).await;
    let (status, answer) = post_inbound(&app, &both_base, &inbound_id, Some(&sign(&second_secret, EVENT))).await;
    assert_eq!(status, 202, "the two-key ring opens old seals: {answer}");

    // Dropping the old key before resealing: a correctly signed request is refused, saying why.
    let early_base = app.serve_with(with_ring(Some(new_only.clone()))).await;
    let (status, answer) = post_inbound(&app, &early_base, &inbound_id, Some(&sign(&second_secret, EVENT))).await;
    assert_eq!((status, answer["error"].as_str()), (500, Some("secret_key_mismatch")), "{answer}");
    let (status, answer) = post_inbound(&app, &early_base, &inbound_id, None).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_signature")), "unsigned stays 401: {answer}");

    let report = reseal_all(store, &both).await.unwrap();
    assert_eq!((report.workspaces, report.webhooks_resealed, report.connectors_resealed), (1, 2, 1), "{report:?}");
    assert!(report.unopenable.is_empty(), "{report:?}");
    let again = reseal_all(store, &both).await.unwrap();
    assert_eq!((again.webhooks_resealed, again.connectors_resealed), (0, 0), "a second run writes nothing");

    // No stored value names the old key any more, and the new key alone opens them all.
    let inbound_webhook = WebhookId::parse(&inbound_webhook).unwrap();
    let inbound_record = store.webhook(&workspace, &inbound_webhook).await.unwrap().unwrap().value;
    assert_eq!(inbound_record.previous_secrets.len(), 1);
    let endpoint_record = store.webhook(&workspace, &endpoint_id).await.unwrap().unwrap().value;
    let connector = store.connector(&workspace, &datadog_id).await.unwrap().unwrap().value;
    let grant = connector.oauth.clone().unwrap();
    let all_sealed = [
        &inbound_record.signing_secret.sealed,
        &inbound_record.previous_secrets[0].sealed,
        &endpoint_record.signing_secret.sealed,
        connector.sealed_credentials.as_ref().unwrap(),
        grant.sealed_tokens.as_ref().unwrap(),
        &grant.pending.as_ref().unwrap().sealed_verifier,
    ];
    for sealed in all_sealed {
        assert!(new_only.is_current(sealed) && !sealed.contains(&old_key_id), "{sealed}");
    }
    let now = causeloop_storage::clock::now_rfc3339();
    assert_eq!(
        open_valid_secrets(&new_only, &inbound_record, &now).unwrap(),
        vec![second_secret.clone(), first_secret.clone()]
    );
    assert!(open_current_secret(&new_only, &endpoint_record).is_some_and(|secret| secret.starts_with("whsec_")));
    let opened = open_credentials(&new_only, &workspace, &datadog_id, connector.sealed_credentials.as_ref().unwrap());
    assert_eq!(Value::Object(opened.unwrap()), credentials);
    assert_eq!(
        open_oauth_tokens(&new_only, &workspace, &datadog_id, grant.sealed_tokens.as_ref().unwrap()),
        Ok(tokens)
    );
    let verifier = open_oauth_verifier(&new_only, &datadog_id, &grant.pending.unwrap().sealed_verifier);
    assert_eq!(verifier.as_deref(), Some("verifier-1"));

    // The same server that refused before now verifies with both the current and the
    // grace-period secret.
    for secret in [&second_secret, &first_secret] {
        let (status, answer) = post_inbound(&app, &early_base, &inbound_id, Some(&sign(secret, EVENT))).await;
        assert_eq!(status, 202, "{answer}");
    }
}
mod rotation_and_reseal {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_rotation_reseals_every_stored_secret(app_sealing_with_old_key(Backend::Sqlite).await.unwrap()).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moto() {
        if let Some(app) = app_sealing_with_old_key(Backend::Moto).await {
            a_rotation_reseals_every_stored_secret(app).await;
        }
    }
}

/// The key the app seals with before the rotation; fixed so the test can build the two-key ring.
const OLD_KEY: [u8; 32] = [0x5a; 32];

async fn app_sealing_with_old_key(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |mut state| {
        state.settings = Arc::new(with_ring(Some(SecretBox::new(OLD_KEY))));
        state
    })
    .await
}

async fn without_a_keyring_requests_are_refused_clearly(app: TestApp) {
    let connector = app.create_custom_connector(&app.owner.key, "Deploy Monitor").await;
    let connector_id = connector["id"].as_str().unwrap().to_string();
    let secret =
        app.enable_inbound(&app.owner.key, &connector_id).await["signing_secret"].as_str().unwrap().to_string();
    let keyless = app.serve_with(with_ring(None)).await;

    let (status, answer) = post_inbound(&app, &keyless, &connector_id, None).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_signature")), "{answer}");
    let (status, answer) = post_inbound(&app, &keyless, "con_doesnotexist", Some(&sign(&secret, EVENT))).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_signature")), "{answer}");
    let (status, answer) = post_inbound(&app, &keyless, &connector_id, Some(&sign(&secret, EVENT))).await;
    assert_eq!((status, answer["error"].as_str()), (500, Some("secret_key_not_configured")), "{answer}");
    let response = app
        .http
        .post(format!("{keyless}/v1/webhooks"))
        .bearer_auth(&app.owner.key)
        .json(&json!({"url": "https://hooks.example.com/causeloop", "event_types": ["issue.ingested"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500, "registering needs a keyring to seal the new secret");
}
both_backends!(keyless, without_a_keyring_requests_are_refused_clearly);
