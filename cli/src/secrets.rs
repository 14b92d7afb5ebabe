//! `causeloop secrets new-key|reseal`: rotating the master keyring (`causeloop_domain::sealed`).
//!
//! A rotation, whichever store: put a new key first in the keyring (the old one stays after it,
//! so everything sealed so far still opens), restart what reads the keyring, run `reseal` until
//! it reports nothing unopenable, then drop the old key. docs/deploy.md walks through it on AWS.

use crate::StoreArgs;
use anyhow::{bail, Context};
use base64::Engine;
use causeloop_api::config::Config;
use causeloop_api::secrets::reseal_all;
use causeloop_domain::sealed::{SecretBox, KEY_BYTES};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key (base64 of 32 bytes) to put in a keyring.
    NewKey,
    /// Seal every stored secret again under the keyring's first key; prints what it did as JSON.
    /// The keyring comes from CAUSELOOP_SECRET_KEY, else (with --data-dir) <data-dir>/secret.key.
    /// Exits 1 when some value opens with no key of the ring: do not drop a key then.
    Reseal {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A fresh key in the keyring's text form.
pub fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; KEY_BYTES]>())
}

pub async fn run(command: SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::NewKey => println!("{}", new_key()),
        SecretsCommand::Reseal { store } => {
            let ring = keyring(&store)?;
            let report = reseal_all(&crate::keys::open_store(&store).await?, &ring).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "current_key_id": ring.current_key_id(),
                    "key_ids": ring.key_ids(),
                    "report": report,
                }))?
            );
            if !report.unopenable.is_empty() {
                bail!(
                    "{} stored values open with no key of the keyring; keep every key until they are mended",
                    report.unopenable.len()
                );
            }
        }
    }
    Ok(())
}

fn keyring(store: &StoreArgs) -> anyhow::Result<SecretBox> {
    let config = Config::from_env().map_err(anyhow::Error::msg)?;
    if let Some(ring) = config.secret_key {
        return Ok(ring);
    }
    if store.table.is_some() {
        bail!(
            "set CAUSELOOP_SECRET_KEY to the keyring, e.g. from the stack's secret: \
             CAUSELOOP_SECRET_KEY=\"$(aws secretsmanager get-secret-value --secret-id <KeyringSecret> --query SecretString --output text)\""
        );
    }
    let path = store.data_dir.join(crate::serve::SECRET_KEY_FILE);
    crate::serve::read_keyring_file(&path).context("no keyring to reseal with")
}
