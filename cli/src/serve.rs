//! `causeloop serve`: every route family and worker in one process, on the embedded store.

use anyhow::{bail, Context};
use causeloop_api::app::{self, Families};
use causeloop_api::config::Config;
use causeloop_api::outbound::OutboundClient;
use causeloop_api::provisioning::create_key;
use causeloop_api::state::{AppState, Settings};
use causeloop_connectors::oauth::ClientSettings;
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::ScopeSet;
use causeloop_storage::sqlite::SqliteStore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DATABASE_FILE: &str = "causeloop.db";
pub const CREDENTIALS_FILE: &str = "credentials.json";
pub const SECRET_KEY_FILE: &str = "secret.key";

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[arg(long, default_value = ".causeloop")]
    data_dir: PathBuf,
    /// Allow outbound webhooks to http:// and private addresses (local development only).
    #[arg(long)]
    allow_private_targets: bool,
    /// Pin an SNS signing certificate for a SigningCertURL, for offline testing of the
    /// `cloudwatch` provider: `https://sns.<region>.amazonaws.com/<name>.pem=<pem file>`.
    /// Repeatable. Without it certificates are fetched over HTTPS, as the Lambda always does.
    #[arg(long = "trust-sns-cert", value_name = "URL=PEM_FILE", value_parser = causeloop_api::alerts::sns::parse_trusted_cert)]
    trust_sns_cert: Vec<(String, Vec<u8>)>,
    #[command(flatten)]
    oauth: OAuthArgs,
}

/// OAuth clients of managed connectors: each option can also come from its environment variable.
#[derive(clap::Args)]
pub struct OAuthArgs {
    /// The jira OAuth app's client id.
    #[arg(
        long = "oauth-jira-client-id",
        env = "CAUSELOOP_OAUTH_JIRA_CLIENT_ID",
        value_name = "CLIENT_ID",
        hide_env_values = true
    )]
    jira_client_id: Option<String>,
    /// The jira OAuth app's client secret.
    #[arg(
        long = "oauth-jira-client-secret",
        env = "CAUSELOOP_OAUTH_JIRA_CLIENT_SECRET",
        value_name = "CLIENT_SECRET",
        hide_env_values = true
    )]
    jira_client_secret: Option<String>,
    /// The jira OAuth app's authorize URL (default: the vendor's).
    #[arg(
        long = "oauth-jira-authorize-url",
        env = "CAUSELOOP_OAUTH_JIRA_AUTHORIZE_URL",
        value_name = "AUTHORIZE_URL",
        hide_env_values = true
    )]
    jira_authorize_url: Option<String>,
    /// The jira OAuth app's token URL (default: the vendor's).
    #[arg(
        long = "oauth-jira-token-url",
        env = "CAUSELOOP_OAUTH_JIRA_TOKEN_URL",
        value_name = "TOKEN_URL",
        hide_env_values = true
    )]
    jira_token_url: Option<String>,
    /// The github OAuth app's client id.
    #[arg(
        long = "oauth-github-client-id",
        env = "CAUSELOOP_OAUTH_GITHUB_CLIENT_ID",
        value_name = "CLIENT_ID",
        hide_env_values = true
    )]
    github_client_id: Option<String>,
    /// The github OAuth app's client secret.
    #[arg(
        long = "oauth-github-client-secret",
        env = "CAUSELOOP_OAUTH_GITHUB_CLIENT_SECRET",
        value_name = "CLIENT_SECRET",
        hide_env_values = true
    )]
    github_client_secret: Option<String>,
    /// The github OAuth app's authorize URL (default: the vendor's).
    #[arg(
        long = "oauth-github-authorize-url",
        env = "CAUSELOOP_OAUTH_GITHUB_AUTHORIZE_URL",
        value_name = "AUTHORIZE_URL",
        hide_env_values = true
    )]
    github_authorize_url: Option<String>,
    /// The github OAuth app's token URL (default: the vendor's).
    #[arg(
        long = "oauth-github-token-url",
        env = "CAUSELOOP_OAUTH_GITHUB_TOKEN_URL",
        value_name = "TOKEN_URL",
        hide_env_values = true
    )]
    github_token_url: Option<String>,
    /// The pagerduty OAuth app's client id.
    #[arg(
        long = "oauth-pagerduty-client-id",
        env = "CAUSELOOP_OAUTH_PAGERDUTY_CLIENT_ID",
        value_name = "CLIENT_ID",
        hide_env_values = true
    )]
    pagerduty_client_id: Option<String>,
    /// The pagerduty OAuth app's client secret.
    #[arg(
        long = "oauth-pagerduty-client-secret",
        env = "CAUSELOOP_OAUTH_PAGERDUTY_CLIENT_SECRET",
        value_name = "CLIENT_SECRET",
        hide_env_values = true
    )]
    pagerduty_client_secret: Option<String>,
    /// The pagerduty OAuth app's authorize URL (default: the vendor's).
    #[arg(
        long = "oauth-pagerduty-authorize-url",
        env = "CAUSELOOP_OAUTH_PAGERDUTY_AUTHORIZE_URL",
        value_name = "AUTHORIZE_URL",
        hide_env_values = true
    )]
    pagerduty_authorize_url: Option<String>,
    /// The pagerduty OAuth app's token URL (default: the vendor's).
    #[arg(
        long = "oauth-pagerduty-token-url",
        env = "CAUSELOOP_OAUTH_PAGERDUTY_TOKEN_URL",
        value_name = "TOKEN_URL",
        hide_env_values = true
    )]
    pagerduty_token_url: Option<String>,
    /// The servicenow OAuth app's client id.
    #[arg(
        long = "oauth-servicenow-client-id",
        env = "CAUSELOOP_OAUTH_SERVICENOW_CLIENT_ID",
        value_name = "CLIENT_ID",
        hide_env_values = true
    )]
    servicenow_client_id: Option<String>,
    /// The servicenow OAuth app's client secret.
    #[arg(
        long = "oauth-servicenow-client-secret",
        env = "CAUSELOOP_OAUTH_SERVICENOW_CLIENT_SECRET",
        value_name = "CLIENT_SECRET",
        hide_env_values = true
    )]
    servicenow_client_secret: Option<String>,
    /// The servicenow OAuth app's authorize URL (default: the vendor's).
    #[arg(
        long = "oauth-servicenow-authorize-url",
        env = "CAUSELOOP_OAUTH_SERVICENOW_AUTHORIZE_URL",
        value_name = "AUTHORIZE_URL",
        hide_env_values = true
    )]
    servicenow_authorize_url: Option<String>,
    /// The servicenow OAuth app's token URL (default: the vendor's).
    #[arg(
        long = "oauth-servicenow-token-url",
        env = "CAUSELOOP_OAUTH_SERVICENOW_TOKEN_URL",
        value_name = "TOKEN_URL",
        hide_env_values = true
    )]
    servicenow_token_url: Option<String>,
    /// Atlassian's API gateway for Jira OAuth grants (`accessible-resources`, `/ex/jira/<cloudId>`).
    #[arg(long = "oauth-jira-api-url", env = "CAUSELOOP_OAUTH_JIRA_API_URL", default_value = causeloop_api::oauth::JIRA_API_URL)]
    jira_api_url: String,
    /// The public base URL OAuth redirect URIs are built on (`<url>/v1/oauth/callback`); without it
    /// the request's host is used.
    #[arg(long = "public-url", env = "CAUSELOOP_PUBLIC_URL")]
    public_url: Option<String>,
}

impl OAuthArgs {
    fn clients(&self) -> BTreeMap<String, ClientSettings> {
        let all = [
            ("jira", &self.jira_client_id, &self.jira_client_secret, &self.jira_authorize_url, &self.jira_token_url),
            (
                "github",
                &self.github_client_id,
                &self.github_client_secret,
                &self.github_authorize_url,
                &self.github_token_url,
            ),
            (
                "pagerduty",
                &self.pagerduty_client_id,
                &self.pagerduty_client_secret,
                &self.pagerduty_authorize_url,
                &self.pagerduty_token_url,
            ),
            (
                "servicenow",
                &self.servicenow_client_id,
                &self.servicenow_client_secret,
                &self.servicenow_authorize_url,
                &self.servicenow_token_url,
            ),
        ];
        all.into_iter()
            .filter(|(_, id, secret, ..)| id.is_some() || secret.is_some())
            .map(|(kind, id, secret, authorize, token)| {
                let text = |value: &Option<String>| value.clone().unwrap_or_default();
                let client = ClientSettings {
                    client_id: text(id),
                    client_secret: text(secret),
                    authorize_url: text(authorize),
                    token_url: text(token),
                };
                (kind.to_string(), client)
            })
            .collect()
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_env().map_err(anyhow::Error::msg)?;
    causeloop_api::telemetry::init(&config);
    crate::create_private_dir(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let sqlite = SqliteStore::open(&args.data_dir.join(DATABASE_FILE))?;
    let state = AppState::new(
        Arc::new(sqlite.clone()),
        Arc::new(sqlite),
        Settings {
            allow_private_targets: args.allow_private_targets,
            trusted_sns_certs: args.trust_sns_cert.into_iter().collect(),
            secret_box: Some(load_or_create_secret_key(&config, &args.data_dir)?),
            oauth_clients: args.oauth.clients(),
            oauth_jira_api_url: Some(args.oauth.jira_api_url.clone()),
            public_url: args.oauth.public_url.clone(),
            keyring_loader: None,
        },
    );
    bootstrap(&state, &args.data_dir).await?;

    app::spawn_workers(&state, OutboundClient::new(args.allow_private_targets).map_err(anyhow::Error::msg)?);

    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let bound = listener.local_addr()?;
    // The one line tools wait for; it goes to stdout so scripts can read the address.
    println!("causeloop listening on http://{bound}");
    let app = app::serve(Families::ALL, state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// On a first start with an empty store, creates a workspace and an all-scope key, prints
/// them once and writes them to `<data-dir>/credentials.json` (mode 0600).
async fn bootstrap(state: &AppState, data_dir: &Path) -> anyhow::Result<()> {
    if !state.store.workspaces().await?.is_empty() {
        return Ok(());
    }
    let created = create_key(&state.store, "default", ScopeSet::all()).await?;
    let json = serde_json::to_string_pretty(&created)?;
    let path = data_dir.join(CREDENTIALS_FILE);
    write_private(&path, json.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    println!("created workspace {} with an all-scope key (saved to {}):\n{json}", created.workspace_id, path.display());
    Ok(())
}

/// The master keyring that seals signing secrets, connector credentials and OAuth grants (see
/// `causeloop_domain::sealed`): `CAUSELOOP_SECRET_KEY` when set, else `<data-dir>/secret.key`,
/// holding one key generated on first start with mode 0600. Losing the file makes stored
/// secrets unusable, so it is never rewritten once it exists; a rotation edits it
/// (`causeloop secrets`).
fn load_or_create_secret_key(config: &Config, data_dir: &Path) -> anyhow::Result<SecretBox> {
    if config.keyring_secret.is_some() {
        bail!("`causeloop serve` reads its keyring from CAUSELOOP_SECRET_KEY or <data-dir>/{SECRET_KEY_FILE}, not from Secrets Manager (CAUSELOOP_KEYRING_SECRET)");
    }
    if let Some(from_env) = &config.secret_key {
        return Ok(from_env.clone());
    }
    let path = data_dir.join(SECRET_KEY_FILE);
    if !path.exists() {
        write_private(&path, format!("{}\n", crate::secrets::new_key()).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    read_keyring_file(&path)
}

/// The keyring in `path` (a data directory's `secret.key`).
pub fn read_keyring_file(path: &Path) -> anyhow::Result<SecretBox> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    SecretBox::from_keyring_text(&text).with_context(|| format!("{} is not a valid keyring", path.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
