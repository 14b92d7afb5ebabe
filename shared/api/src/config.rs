//! The deployment's configuration: every environment variable the service reads, read here once
//! per process into one typed value. (The AWS SDK reads its own standard variables, such as
//! `AWS_ENDPOINT_URL`, itself.)

use causeloop_connectors::oauth::ClientSettings;
use causeloop_domain::sealed::SecretBox;
use causeloop_storage::{QueueName, QueueUrls};
use std::collections::{BTreeMap, HashMap};

/// The environment variable holding the master keyring itself (`causeloop serve`, tests): keys
/// separated by whitespace or commas, the first sealing (`causeloop_domain::sealed`).
pub const SECRET_KEY_ENV: &str = "CAUSELOOP_SECRET_KEY";
/// The environment variable naming the Secrets Manager secret (ARN or name) that holds the
/// master keyring, read on first use: how the Lambda functions get it.
pub const KEYRING_SECRET_ENV: &str = "CAUSELOOP_KEYRING_SECRET";

/// The connector types whose OAuth clients a deployment configures.
pub const OAUTH_TYPES: [&str; 4] = ["jira", "github", "pagerduty", "servicenow"];

#[derive(Clone, Default)]
pub struct Config {
    /// `TABLE_NAME`: the DynamoDB table (required on AWS).
    pub table_name: Option<String>,
    /// `<QUEUE>_QUEUE_URL` and `<QUEUE>_DLQ_URL` for each of [`QueueName::ALL`].
    pub queues: HashMap<QueueName, QueueUrls>,
    /// `ALLOW_PRIVATE_TARGETS=true`: outbound webhooks may target http and private addresses.
    pub allow_private_targets: bool,
    /// [`SECRET_KEY_ENV`]: the master keyring that seals secrets at rest.
    pub secret_key: Option<SecretBox>,
    /// [`KEYRING_SECRET_ENV`]: the Secrets Manager secret holding the master keyring.
    pub keyring_secret: Option<String>,
    /// `AWS_REGION`, which Lambda always sets; without it the SDK's region chain runs.
    pub aws_region: Option<String>,
    /// Whether `AWS_ACCESS_KEY_ID` is set (Lambda's role credentials arrive that way), so the
    /// SDK can skip its default credential chain.
    pub aws_credentials_in_env: bool,
    /// Whether `SSL_CERT_FILE` or `SSL_CERT_DIR` names a trust store of the deployment's own (a
    /// proxy with its own CA); without one the AWS clients trust the bundled Amazon roots.
    pub custom_trust_store: bool,
    /// Per connector type with OAuth (`jira`, `github`, `pagerduty`, `servicenow`):
    /// `CAUSELOOP_OAUTH_<TYPE>_CLIENT_ID`, `_CLIENT_SECRET`, `_AUTHORIZE_URL`, `_TOKEN_URL`
    /// (the URLs default to the vendor's own, see `causeloop_connectors`).
    pub oauth_clients: BTreeMap<String, ClientSettings>,
    /// `CAUSELOOP_OAUTH_JIRA_API_URL`: Atlassian's API gateway (`https://api.atlassian.com`),
    /// which serves `accessible-resources` and `/ex/jira/<cloudId>`.
    pub oauth_jira_api_url: Option<String>,
    /// `CAUSELOOP_PUBLIC_URL`: the service's public base URL, for OAuth redirect URIs; without it
    /// the redirect URI is built from the request's `Host` (and `X-Forwarded-Proto`).
    pub public_url: Option<String>,
    /// `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL` (see [`crate::telemetry`]).
    pub rust_log: Option<String>,
    pub lambda_log_level: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var`; a malformed value is an error, so a function never
    /// starts with configuration it would fail to use.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let mut queues = HashMap::new();
        for queue in QueueName::ALL {
            let name = queue.as_str().to_ascii_uppercase();
            if let Some(main) = set(&format!("{name}_QUEUE_URL")) {
                queues.insert(queue, QueueUrls { main, dead_letter: set(&format!("{name}_DLQ_URL")) });
            }
        }
        let secret_key = match set(SECRET_KEY_ENV) {
            None => None,
            Some(text) => Some(SecretBox::from_keyring_text(&text).map_err(|err| format!("{SECRET_KEY_ENV}: {err}"))?),
        };
        let keyring_secret = set(KEYRING_SECRET_ENV);
        if secret_key.is_some() && keyring_secret.is_some() {
            return Err(format!(
                "set {SECRET_KEY_ENV} or {KEYRING_SECRET_ENV}, not both: which keyring seals is ambiguous"
            ));
        }
        let mut oauth_clients = BTreeMap::new();
        for kind in OAUTH_TYPES {
            let prefix = format!("CAUSELOOP_OAUTH_{}_", kind.to_ascii_uppercase());
            let client = ClientSettings {
                client_id: set(&format!("{prefix}CLIENT_ID")).unwrap_or_default(),
                client_secret: set(&format!("{prefix}CLIENT_SECRET")).unwrap_or_default(),
                authorize_url: set(&format!("{prefix}AUTHORIZE_URL")).unwrap_or_default(),
                token_url: set(&format!("{prefix}TOKEN_URL")).unwrap_or_default(),
            };
            if client != ClientSettings::default() {
                oauth_clients.insert(kind.to_string(), client);
            }
        }
        Ok(Config {
            oauth_clients,
            oauth_jira_api_url: set("CAUSELOOP_OAUTH_JIRA_API_URL"),
            public_url: set("CAUSELOOP_PUBLIC_URL"),
            table_name: set("TABLE_NAME"),
            queues,
            allow_private_targets: var("ALLOW_PRIVATE_TARGETS").is_some_and(|value| value == "true"),
            secret_key,
            keyring_secret,
            aws_region: set("AWS_REGION"),
            aws_credentials_in_env: set("AWS_ACCESS_KEY_ID").is_some(),
            custom_trust_store: var("SSL_CERT_FILE").is_some() || var("SSL_CERT_DIR").is_some(),
            rust_log: set("RUST_LOG"),
            lambda_log_level: set("AWS_LAMBDA_LOG_LEVEL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_vars(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
    }

    #[test]
    fn reads_every_variable_into_its_field() {
        let config = config(&[
            ("TABLE_NAME", "causeloop"),
            ("CLUSTER_QUEUE_URL", "https://sqs/cluster.fifo"),
            ("CLUSTER_DLQ_URL", "https://sqs/cluster-dlq.fifo"),
            ("DELIVERY_QUEUE_URL", "https://sqs/delivery"),
            ("ALLOW_PRIVATE_TARGETS", "true"),
            (SECRET_KEY_ENV, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("RUST_LOG", "debug"),
            ("CAUSELOOP_OAUTH_JIRA_CLIENT_ID", "jira-client"),
            ("CAUSELOOP_OAUTH_JIRA_CLIENT_SECRET", "jira-secret"),
            ("CAUSELOOP_OAUTH_JIRA_TOKEN_URL", "http://127.0.0.1:9/oauth/token"),
            ("CAUSELOOP_OAUTH_JIRA_API_URL", "http://127.0.0.1:9"),
            ("CAUSELOOP_PUBLIC_URL", "https://causeloop.example"),
        ])
        .unwrap();
        let jira = &config.oauth_clients["jira"];
        assert_eq!((jira.client_id.as_str(), jira.client_secret.as_str()), ("jira-client", "jira-secret"));
        assert_eq!((jira.token_url.as_str(), jira.authorize_url.as_str()), ("http://127.0.0.1:9/oauth/token", ""));
        assert!(!config.oauth_clients.contains_key("github"));
        assert_eq!(config.oauth_jira_api_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(config.public_url.as_deref(), Some("https://causeloop.example"));
        assert_eq!(config.table_name.as_deref(), Some("causeloop"));
        assert_eq!(
            config.queues[&QueueName::Cluster],
            QueueUrls {
                main: "https://sqs/cluster.fifo".into(),
                dead_letter: Some("https://sqs/cluster-dlq.fifo".into())
            }
        );
        assert_eq!(config.queues[&QueueName::Delivery].dead_letter, None);
        assert!(config.allow_private_targets && config.secret_key.is_some() && config.aws_credentials_in_env);
        assert_eq!(config.aws_region.as_deref(), Some("eu-west-1"));
        assert_eq!(config.rust_log.as_deref(), Some("debug"));
        assert!(!config.custom_trust_store);
    }

    #[test]
    fn unset_and_empty_mean_absent_and_a_bad_key_is_an_error() {
        let empty = config(&[("TABLE_NAME", ""), (SECRET_KEY_ENV, " "), ("ALLOW_PRIVATE_TARGETS", "yes")]).unwrap();
        assert!(empty.table_name.is_none() && empty.secret_key.is_none() && !empty.allow_private_targets);
        let err = config(&[(SECRET_KEY_ENV, "not base64")]).err().expect("a malformed key is refused");
        assert!(err.starts_with(SECRET_KEY_ENV), "{err}");
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:causeloop-keyring";
        assert_eq!(config(&[(KEYRING_SECRET_ENV, arn)]).unwrap().keyring_secret.as_deref(), Some(arn));
        let both =
            config(&[(KEYRING_SECRET_ENV, arn), (SECRET_KEY_ENV, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]);
        assert!(both.err().expect("two keyrings are refused").contains("not both"));
    }
}
