//! `causeloop keys create|list|revoke`. Output is JSON on stdout, exactly one value per command.
//!
//! Two ways to reach the keys: the store itself (`--data-dir`, or `--table` for DynamoDB), as an
//! operator does to create a workspace's first key; or the keys API of a running service
//! (`--api-url`, with a `keys:admin` key in the `CAUSELOOP_KEY` environment variable, never on
//! the command line where `ps` and shell history would keep it), as anyone administering their
//! own workspace does: the API applies its own rules (no scope beyond the caller's, no revoking
//! the caller's own key) and needs no access to the store.

use crate::StoreArgs;
use anyhow::{bail, Context};
use causeloop_api::provisioning::{create_key, valid_slug};
use causeloop_domain::{KeyId, ScopeSet};
use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::{Store, Table};
use clap::Subcommand;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key (and the workspace, if new); prints {workspace_id, key_id, key, webhook_secret, scopes}.
    Create {
        /// The workspace's slug (on the store; through the API, the key's own workspace).
        #[arg(long)]
        workspace: Option<String>,
        /// Comma-separated scopes; all scopes when omitted (through the API: required).
        #[arg(long)]
        scopes: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List keys (never the keys themselves), optionally of one workspace.
    List {
        #[arg(long)]
        workspace: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Revoke a key by its id; it stops authenticating at once.
    Revoke {
        key_id: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// The keys API of a running service, instead of the store.
#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// Base URL of a running Causeloop (`http://localhost:8080`, the stack's API URL); the key
    /// comes from `CAUSELOOP_KEY` and needs `keys:admin`.
    #[arg(long, env = "CAUSELOOP_API_URL")]
    api_url: Option<String>,
}

/// A client of the keys API: the base URL and the presented key.
struct KeysApi {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl KeysApi {
    fn from_args(args: &ApiArgs) -> anyhow::Result<Option<Self>> {
        let Some(base) = &args.api_url else { return Ok(None) };
        let key = std::env::var("CAUSELOOP_KEY")
            .ok()
            .filter(|key| !key.trim().is_empty())
            .context("--api-url needs a key with keys:admin in the CAUSELOOP_KEY environment variable")?;
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
        Ok(Some(Self { base: base.trim_end_matches('/').to_string(), key: key.trim().to_string(), http }))
    }

    /// Sends a request and returns the JSON answer; an error answer becomes an error naming the
    /// API's code and message.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let code = answer["error"].as_str().unwrap_or("error");
            let message = answer["message"].as_str().unwrap_or("");
            bail!("the API answered {}: {code}: {message}", status.as_u16());
        }
        Ok(answer)
    }

    /// Every key of the workspace, following the pages.
    async fn list(&self) -> anyhow::Result<Vec<Value>> {
        let mut keys = Vec::new();
        let mut path = "/v1/keys?limit=100".to_string();
        loop {
            let page = self.call(reqwest::Method::GET, &path, None).await?;
            keys.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/keys?limit=100&cursor={cursor}"),
                None => return Ok(keys),
            }
        }
    }
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    let table: Arc<dyn Table> = match &args.table {
        Some(name) => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), name.clone()))
        }
        None => {
            crate::create_private_dir(&args.data_dir)
                .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
            Arc::new(SqliteStore::open(&args.data_dir.join(crate::serve::DATABASE_FILE))?)
        }
    };
    Ok(Store::new(table))
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let api = match &command {
        KeysCommand::Create { api, .. } | KeysCommand::List { api, .. } | KeysCommand::Revoke { api, .. } => {
            KeysApi::from_args(api)?
        }
    };
    match api {
        Some(api) => run_through_api(&api, command).await,
        None => run_on_store(command).await,
    }
}

async fn run_through_api(api: &KeysApi, command: KeysCommand) -> anyhow::Result<()> {
    let answer = match command {
        KeysCommand::Create { workspace: Some(_), .. } | KeysCommand::List { workspace: Some(_), .. } => {
            bail!("--workspace applies to the store; through the API a key administers its own workspace")
        }
        KeysCommand::Create { scopes, .. } => {
            let scopes = scopes.context("--scopes is required through the API (a key grants only its own)")?;
            let names: Vec<&str> = scopes.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
            api.call(reqwest::Method::POST, "/v1/keys", Some(json!({ "scopes": names }))).await?
        }
        KeysCommand::List { .. } => json!({ "data": api.list().await? }),
        KeysCommand::Revoke { key_id, .. } => {
            let key_id = KeyId::parse(&key_id).context("not a key id (key_...)")?;
            api.call(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), None).await?;
            // 204 has no body: answer like the store does, from the listing.
            let listed = api.list().await?;
            let revoked = listed.iter().find(|key| key["id"] == key_id.as_str()).context("the key is gone")?;
            json!({"key_id": key_id, "revoked_at": revoked["revoked_at"]})
        }
    };
    println!("{}", serde_json::to_string(&answer)?);
    Ok(())
}

async fn run_on_store(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { workspace, scopes, store, .. } => {
            let workspace = workspace.context("--workspace is required (the slug of the workspace)")?;
            if !valid_slug(&workspace) {
                bail!("workspace slug must be 1–64 characters of a-z, 0-9, '-' and '_'");
            }
            let scopes = match scopes {
                Some(list) => ScopeSet::parse_list(&list)?,
                None => ScopeSet::all(),
            };
            if scopes.is_empty() {
                bail!("--scopes names no scope");
            }
            let created = create_key(&open_store(&store).await?, &workspace, scopes).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
        KeysCommand::List { workspace, store, .. } => {
            let store = open_store(&store).await?;
            let workspace_id = match workspace {
                None => None,
                Some(slug) => Some(store.workspace_by_slug(&slug).await?.context("no workspace with that slug")?.id),
            };
            let keys = store.list_keys(workspace_id.as_ref()).await?;
            let listed: Vec<_> = keys
                .iter()
                .map(|key| {
                    json!({
                        "key_id": key.key_id,
                        "workspace_id": key.workspace_id,
                        "hint": key.hint,
                        "scopes": key.scopes,
                        "created_at": key.created_at,
                        "revoked_at": key.revoked_at,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string(&json!({ "data": listed }))?);
        }
        KeysCommand::Revoke { key_id, store, .. } => {
            let key_id = KeyId::parse(&key_id).context("not a key id (key_...)")?;
            let now = causeloop_storage::clock::now_rfc3339();
            let revoked = open_store(&store).await?.revoke_key(&key_id, &now).await?.context("no key with that id")?;
            println!(
                "{}",
                serde_json::to_string(&json!({"key_id": revoked.key_id, "revoked_at": revoked.revoked_at}))?
            );
        }
    }
    Ok(())
}
