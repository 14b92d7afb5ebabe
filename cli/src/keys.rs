//! `causeloop keys create|list|revoke`. Output is JSON on stdout, exactly one value per command.

use crate::StoreArgs;
use anyhow::{bail, Context};
use causeloop_api::provisioning::{create_key, valid_slug};
use causeloop_domain::{KeyId, ScopeSet};
use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::{Store, Table};
use clap::Subcommand;
use serde_json::json;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key (and the workspace, if new); prints {workspace_id, key_id, key, webhook_secret, scopes}.
    Create {
        #[arg(long)]
        workspace: String,
        /// Comma-separated scopes; all scopes when omitted.
        #[arg(long)]
        scopes: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (never the keys themselves), optionally of one workspace.
    List {
        #[arg(long)]
        workspace: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id; it stops authenticating at once.
    Revoke {
        key_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
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
    match command {
        KeysCommand::Create { workspace, scopes, store } => {
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
        KeysCommand::List { workspace, store } => {
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
        KeysCommand::Revoke { key_id, store } => {
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
