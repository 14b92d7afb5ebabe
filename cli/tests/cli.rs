//! The `causeloop` binary as a user runs it: keys on the embedded store, the first start of
//! `serve`, durability across restarts, revocation, and no plaintext key in the store.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_causeloop");

fn causeloop(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN).args(args).output().expect("run causeloop");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn keys_create(data_dir: &Path, slug: &str, scopes: Option<&str>) -> Value {
    let dir = data_dir.to_str().unwrap();
    let mut args = vec!["keys", "create", "--workspace", slug, "--data-dir", dir];
    if let Some(scopes) = scopes {
        args.extend(["--scopes", scopes]);
    }
    let (ok, stdout, stderr) = causeloop(&args);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "exactly one JSON object on stdout: {stdout}");
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

struct Server {
    child: Child,
    base: String,
    printed: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut printed = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(address) = line.strip_prefix("causeloop listening on ") {
            break address.to_string();
        }
        printed.push(line);
    };
    Server { child, base, printed }
}

#[test]
fn keys_create_gives_one_workspace_per_slug_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let first = keys_create(dir.path(), "acme", None);
    let second = keys_create(dir.path(), "acme", Some("ingest:write,issues:read"));
    assert_eq!(first["workspace_id"], second["workspace_id"]);
    assert_ne!(first["key_id"], second["key_id"]);
    assert!(first["key"].as_str().unwrap().starts_with("clk_"));
    assert!(first["webhook_secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(second["scopes"], serde_json::json!(["ingest:write", "issues:read"]));
    assert_eq!(first["scopes"].as_array().unwrap().len(), causeloop_domain::Scope::ALL.len());

    let dir_arg = dir.path().to_str().unwrap();
    assert!(
        !causeloop(&["keys", "create", "--workspace", "acme", "--scopes", "issues:delete", "--data-dir", dir_arg]).0
    );
    assert!(!causeloop(&["keys", "create", "--workspace", "Bad Slug!", "--data-dir", dir_arg]).0);

    let (ok, listed, _) = causeloop(&["keys", "list", "--workspace", "acme", "--data-dir", dir_arg]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(first["key"].as_str().unwrap()), "listings never show a key");
}

#[test]
fn serve_bootstraps_once_persists_and_honours_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (key, issue_id);
    {
        let server = serve(&data);
        assert!(server.printed.iter().any(|line| line.contains("created workspace")), "{:?}", server.printed);
        let credentials_path = data.join("credentials.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&credentials_path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let credentials: Value = serde_json::from_str(&std::fs::read_to_string(credentials_path).unwrap()).unwrap();
        key = credentials["key"].as_str().unwrap().to_string();
        let client = reqwest::blocking_client();
        let response = client
            .post(format!("{}/v1/ingest/events", server.base))
            .bearer_auth(&key)
            .json(&serde_json::json!({"source": "cli", "external_id": "e-1", "title": "kept across restarts"}))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        issue_id = response.json::<Value>().unwrap()["issue_id"].as_str().unwrap().to_string();
    }

    // Second start: no new workspace, the Issue is still there.
    let server = serve(&data);
    assert!(!server.printed.iter().any(|line| line.contains("created workspace")));
    let client = reqwest::blocking_client();
    let issue = client.get(format!("{}/v1/issues/{issue_id}", server.base)).bearer_auth(&key).send().unwrap();
    assert_eq!(issue.status().as_u16(), 200);

    // A second key, created while the server runs, then revoked: 401 from then on.
    let reader = keys_create(&data, "default", Some("issues:read"));
    let reader_key = reader["key"].as_str().unwrap();
    let as_reader =
        || client.get(format!("{}/v1/issues", server.base)).bearer_auth(reader_key).send().unwrap().status().as_u16();
    assert_eq!(as_reader(), 200);
    let (ok, _, stderr) =
        causeloop(&["keys", "revoke", reader["key_id"].as_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(as_reader(), 401);

    // Nothing in the store holds a key or webhook secret in clear.
    let secrets = [key.as_str(), reader_key, reader["webhook_secret"].as_str().unwrap()];
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "credentials.json" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            let body = secret.split_once('_').unwrap().1;
            assert!(
                !bytes.windows(body.len()).any(|window| window == body.as_bytes()),
                "{} holds a secret",
                path.display()
            );
        }
    }
}

/// `causeloop keys …` through the keys API of a running server, with `key` in CAUSELOOP_KEY.
fn keys_through_api(base: &str, key: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .arg("keys")
        .args(args)
        .args(["--api-url", base])
        .env("CAUSELOOP_KEY", key)
        .output()
        .expect("run causeloop");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn keys_are_administered_through_the_api_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data);
    let credentials: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("credentials.json")).unwrap()).unwrap();
    let admin = credentials["key"].as_str().unwrap();

    let (ok, stdout, stderr) = keys_through_api(&server.base, admin, &["create", "--scopes", "issues:read"]);
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("one JSON value");
    let reader = created["key"].as_str().unwrap();
    let reader_id = created["id"].as_str().unwrap();
    let client = reqwest::blocking_client();
    let as_reader = || client.get(format!("{}/v1/issues", server.base)).bearer_auth(reader).send().unwrap();
    assert_eq!(as_reader().status().as_u16(), 200);

    let (ok, listed, _) = keys_through_api(&server.base, admin, &["list"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert!(listed["data"].as_array().unwrap().iter().any(|key| key["id"] == reader_id), "{listed}");
    assert!(!listed.to_string().contains(reader), "listings never show a key");

    // The API's rules hold: a reader cannot create keys, and the error names why.
    let (ok, _, stderr) = keys_through_api(&server.base, reader, &["create", "--scopes", "issues:read"]);
    assert!(!ok && stderr.contains("403"), "{stderr}");
    let (ok, _, stderr) =
        keys_through_api(&server.base, admin, &["create", "--workspace", "x", "--scopes", "issues:read"]);
    assert!(!ok && stderr.contains("--workspace"), "{stderr}");

    let (ok, stdout, stderr) = keys_through_api(&server.base, admin, &["revoke", reader_id]);
    assert!(ok, "{stderr}");
    let revoked: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(revoked["key_id"], reader_id);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(as_reader().status().as_u16(), 401);

    // Without a key in the environment, nothing is sent.
    let output = Command::new(BIN)
        .args(["keys", "list", "--api-url", &server.base])
        .env_remove("CAUSELOOP_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("CAUSELOOP_KEY"));
}

mod reqwest {
    pub use ::reqwest::*;
    pub fn blocking_client() -> blocking::Client {
        blocking::Client::new()
    }
}

/// A rotation of the local keyring as docs/deploy.md describes it: a new key in front of the
/// data directory's `secret.key`, `causeloop secrets reseal` with the server stopped, then the
/// old key dropped; the inbound receiver still verifies the secret issued under the old key.
#[test]
fn the_local_keyring_rotates_with_reseal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let client = reqwest::blocking_client();
    let event = br#"{"event_type":"deploy.failed","deploy_id":"DEPLOY-1"}"#;
    let (connector_id, inbound_secret) = {
        let server = serve(&data);
        let credentials: Value =
            serde_json::from_str(&std::fs::read_to_string(data.join("credentials.json")).unwrap()).unwrap();
        let key = credentials["key"].as_str().unwrap();
        let post = |path: &str, body: Value| -> Value {
            let response = client.post(format!("{}{path}", server.base)).bearer_auth(key).json(&body).send().unwrap();
            assert!(response.status().is_success(), "{path}: {}", response.status());
            response.json().unwrap()
        };
        let connector = post(
            "/v1/connectors",
            serde_json::json!({"type": "custom_api", "display_name": "Deploys", "credentials": {}}),
        );
        let connector_id = connector["id"].as_str().unwrap().to_string();
        let registration = post(
            "/v1/webhooks",
            serde_json::json!({"url": format!("https://causeloop.example/v1/webhooks/inbound/{connector_id}"), "connector_id": connector_id}),
        );
        (connector_id, registration["signing_secret"].as_str().unwrap().to_string())
    };
    let inbound = |base: &str| {
        client
            .post(format!("{base}/v1/webhooks/inbound/{connector_id}"))
            .header("x-causeloop-signature", causeloop_domain::signature::sign_hex(inbound_secret.as_bytes(), event))
            .body(event.to_vec())
            .send()
            .unwrap()
            .status()
            .as_u16()
    };

    let key_file = data.join("secret.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap().trim().to_string();
    let (ok, new_key, stderr) = causeloop(&["secrets", "new-key"]);
    assert!(ok, "{stderr}");
    let new_key = new_key.trim().to_string();
    std::fs::write(&key_file, format!("{new_key}\n{old_key}\n")).unwrap();

    let reseal = || {
        let (ok, stdout, stderr) = causeloop(&["secrets", "reseal", "--data-dir", &data_arg]);
        assert!(ok, "{stderr}");
        serde_json::from_str::<Value>(&stdout).expect("one JSON report")
    };
    let first = reseal();
    assert_eq!(first["report"]["webhooks_resealed"], 1, "{first}");
    assert_eq!(first["report"]["unopenable"], serde_json::json!([]));
    assert_eq!(first["key_ids"].as_array().unwrap().len(), 2);
    assert_eq!(reseal()["report"]["webhooks_resealed"], 0, "a second run writes nothing");

    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    let server = serve(&data);
    assert_eq!(inbound(&server.base), 202, "the secret sealed under the old key now opens under the new one");
    drop(server);

    // A keyring that lacks the key of what is stored: reseal says so and fails.
    std::fs::write(&key_file, format!("{}\n", causeloop(&["secrets", "new-key"]).1.trim())).unwrap();
    let (ok, stdout, stderr) = causeloop(&["secrets", "reseal", "--data-dir", &data_arg]);
    assert!(!ok && stderr.contains("open with no key"), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["report"]["unopenable"][0].as_str().unwrap().contains("which the master keyring does not hold"));
}
