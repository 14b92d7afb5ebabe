//! Building the AWS-backed state once per Lambda container.

use crate::config::Config;
use crate::state::{AppState, KeyringLoader, Settings};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use causeloop_domain::sealed::SecretBox;
use causeloop_storage::dynamo::DynamoTable;
use causeloop_storage::sqs::SqsQueues;
use std::sync::Arc;

/// The five Amazon Trust Services roots (see the file's header).
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services-roots.pem");

/// The AWS-backed state of a Lambda function, from the environment's [`Config`].
pub async fn state_from_env() -> Result<AppState, String> {
    state_from_config(&Config::from_env()?).await
}

/// The DynamoDB table and SQS queues the configuration names, with the settings it gives. The
/// SDK's clients take the region and credentials Lambda hands each function in the environment
/// when they are there; the default chains would first build their profile, IMDS, web-identity
/// (an STS client) and ECS providers.
pub async fn state_from_config(config: &Config) -> Result<AppState, String> {
    let table = config.table_name.clone().ok_or_else(|| "TABLE_NAME is not set".to_string())?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if !config.custom_trust_store {
        loader = loader.http_client(aws_service_client());
    }
    if let Some(region) = &config.aws_region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if config.aws_credentials_in_env {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    let sdk = loader.load().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut settings = Settings::from_config(config);
    if let Some(secret_id) = &config.keyring_secret {
        settings.keyring_loader = Some(secrets_manager_keyring(aws_sdk_secretsmanager::Client::new(&sdk), secret_id));
    }
    Ok(AppState::new(
        Arc::new(DynamoTable::new(dynamo, table)),
        Arc::new(SqsQueues::new(sqs, config.queues.clone())),
        settings,
    ))
}

/// The master keyring in the Secrets Manager secret `secret_id` (its `SecretString`, in the
/// format of `SecretBox::from_keyring_text`), read on first use. The read is not at init: most
/// requests of most functions never open a secret, and a function whose secret cannot be read
/// still serves every route that needs none.
pub fn secrets_manager_keyring(client: aws_sdk_secretsmanager::Client, secret_id: &str) -> KeyringLoader {
    let secret_id = secret_id.to_string();
    KeyringLoader::new(Arc::new(move || {
        let (client, secret_id) = (client.clone(), secret_id.clone());
        Box::pin(async move {
            let answer = client.get_secret_value().secret_id(&secret_id).send().await.map_err(|err| {
                format!("GetSecretValue of {secret_id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&err))
            })?;
            let text = answer.secret_string().ok_or_else(|| format!("the secret {secret_id} holds no SecretString"))?;
            SecretBox::from_keyring_text(text).map_err(|err| format!("the secret {secret_id}: {err}"))
        })
    }))
}

/// The SDK's HTTPS client (hyper, rustls with aws-lc, as by default) trusting the Amazon Trust
/// Services roots instead of the platform's store. The default client reads and parses every
/// certificate of the system store when the SDK clients are built, which was most of these
/// functions' init time (BENCHMARKS.md, "Cold start"); these clients only ever talk to AWS
/// endpoints, which chain to these roots. With `SSL_CERT_FILE` or `SSL_CERT_DIR` set (a proxy or
/// endpoint with its own CA), [`state_from_config`] keeps the SDK's default client and its store.
pub fn aws_service_client() -> SharedHttpClient {
    ConnectorBuiltOnce(bundled_roots_client()).into_shared()
}

fn bundled_roots_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context with only a trust store");
    Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The SDK's client minus its start-up check. That check (`validate_base_client_config`) builds
/// a whole connector, TLS configuration and trust store included, and drops it; it exists so that
/// the platform's store is read at init, and it runs once per service client. The connector
/// requests use is built and cached on the first request regardless. With the roots compiled in
/// there is nothing to preload, so the check was two discarded TLS configurations per cold start
/// (a third of the SDK's share of init); without it the one build the first request always did
/// is the only one.
#[derive(Debug)]
struct ConnectorBuiltOnce(SharedHttpClient);

impl HttpClient for ConnectorBuiltOnce {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::{Digest, Sha256};

    /// SHA-256 of each root certificate, as amazontrust.com/repository and Mozilla's store list them.
    const FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services Root CA - G2
    ];

    #[test]
    fn the_bundled_roots_are_exactly_the_five_amazon_trust_services_roots() {
        let text = std::str::from_utf8(AMAZON_TRUST_SERVICES_ROOTS).unwrap();
        let fingerprints: Vec<String> = text
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let base64: String =
                    block.split("-----END CERTIFICATE-----").next().unwrap().split_whitespace().collect();
                let der = base64::engine::general_purpose::STANDARD.decode(base64).expect("base64");
                hex::encode(Sha256::digest(der))
            })
            .collect();
        assert_eq!(fingerprints, FINGERPRINTS);
    }

    #[test]
    fn the_bundled_roots_make_a_tls_configuration() {
        // The SDK's own check builds a connector, parsing every root; an unparsable one panics.
        let components = aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder::new("test");
        let check = bundled_roots_client()
            .validate_base_client_config(&components, &aws_sdk_dynamodb::config::ConfigBag::base());
        assert!(check.is_ok(), "{check:?}");
    }

    /// The SDK configuration for the moto server scripts/test.sh starts, on the bundled-roots
    /// client; `None` (skip) only outside that script.
    async fn moto_config() -> Option<aws_config::SdkConfig> {
        let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
            assert!(std::env::var("CAUSELOOP_REQUIRE_MOTO").is_err(), "MOTO_ENDPOINT must be set by scripts/test.sh");
            return None;
        };
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
            .endpoint_url(endpoint)
            .http_client(aws_service_client())
            .load()
            .await;
        Some(config)
    }

    /// The wrapper skips the SDK's start-up check, so this is what shows that requests still get
    /// a working connector: real calls to both services of the moto server that scripts/test.sh
    /// starts (over plain HTTP; the connector is the same HTTPS-or-HTTP one).
    #[tokio::test]
    async fn service_clients_connect_on_their_first_request() {
        let Some(config) = moto_config().await else {
            return;
        };
        let tables = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await;
        assert!(tables.is_ok(), "{tables:?}");
        let queues = aws_sdk_sqs::Client::new(&config).list_queues().send().await;
        assert!(queues.is_ok(), "{queues:?}");
    }

    /// The keyring loader against Secrets Manager as moto serves it: read once and kept; a
    /// missing secret and a malformed keyring are errors that say which secret, and are not
    /// kept, so a later use reads again.
    #[tokio::test]
    async fn the_keyring_is_read_from_secrets_manager_on_first_use() {
        use crate::state::MasterKeyError;
        let Some(config) = moto_config().await else {
            return;
        };
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let name = format!("causeloop-keyring-{:016x}", rand::random::<u64>());
        // What the template's GenerateSecretString makes: one 64-character passphrase.
        let passphrase: String = (0..64).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        client.create_secret().name(&name).secret_string("too short").send().await.expect("create secret");

        let settings = |loader| Settings { keyring_loader: Some(loader), ..Settings::default() };
        let missing = settings(secrets_manager_keyring(client.clone(), "causeloop-no-such-secret"));
        match missing.master_key().await {
            Err(MasterKeyError::Unavailable(why)) => assert!(why.contains("causeloop-no-such-secret"), "{why}"),
            other => panic!("a missing secret is unavailable, got {other:?}"),
        }

        let configured = settings(secrets_manager_keyring(client.clone(), &name));
        match configured.master_key().await {
            Err(MasterKeyError::Unavailable(why)) => {
                assert!(why.contains(&name) && why.contains("passphrase"), "{why}")
            }
            other => panic!("a malformed keyring is unavailable, got {other:?}"),
        }
        client.put_secret_value().secret_id(&name).secret_string(&passphrase).send().await.expect("put value");
        let ring = configured.master_key().await.expect("the keyring reads once it is well formed").clone();
        assert_eq!(ring.current_key_id(), SecretBox::from_keyring_text(&passphrase).unwrap().current_key_id());

        // Kept once read: a later change of the secret reaches a new process, not this one.
        client.put_secret_value().secret_id(&name).secret_string("changed but malformed").send().await.unwrap();
        assert_eq!(configured.master_key().await.unwrap().current_key_id(), ring.current_key_id());
    }
}
