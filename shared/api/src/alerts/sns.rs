//! The I/O half of CloudWatch-over-SNS: signing certificates and `ConfirmSubscription`.
//! (The pure half — envelope, URL checks, RSA verification — is `causeloop_providers::sns`.)
//!
//! Certificates: only a `SigningCertURL` that passes [`validate_cert_url`] is ever fetched, over
//! HTTPS (rustls), without following redirects, with a size cap and a timeout, and cached per
//! process (per Lambda container) by URL. `causeloop serve --trust-sns-cert URL=PEM` pins a
//! certificate for a URL in [`Settings::trusted_sns_certs`], for offline testing; pins are read
//! before the cache and never fetched.

use crate::state::{AppState, Settings};
use aws_sdk_sns::config::timeout::TimeoutConfig;
use aws_sdk_sns::config::Region;
use aws_sdk_sns::error::DisplayErrorContext;
use causeloop_providers::sns::validate_cert_url;
use causeloop_providers::VerifyError;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

// The one Amazon SNS call the service makes, as a port: confirming an HTTPS subscription with
// `ConfirmSubscription` (topic ARN + token) rather than fetching the `SubscribeURL`. Lambda and
// `causeloop serve` use [`SdkSubscriptionConfirmer`]; tests install a recording one through
// [`AppState::with_sns_confirmer`].

/// Why a confirmation did not happen. Every variant answers 502 so that SNS retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmError(pub String);

impl std::fmt::Display for ConfirmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type ConfirmFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ConfirmError>> + Send + 'a>>;

pub trait SubscriptionConfirmer: Send + Sync {
    /// Calls `ConfirmSubscription` in the topic's region; yields the subscription ARN.
    fn confirm_subscription<'a>(&'a self, topic_arn: &'a str, token: &'a str) -> ConfirmFuture<'a>;
}

/// Real SNS certificates are about 2 KB; anything much larger is not one.
const MAX_CERT_BYTES: usize = 64 * 1024;
/// SNS signs with a handful of certificates at a time; a full cache is simply cleared.
const MAX_CACHED_CERTS: usize = 32;
const CERT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounded so that a stuck SNS call cannot outlive API Gateway's 30 s integration timeout.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum CertError {
    /// The URL is not an Amazon SNS certificate URL, or what it served is not a certificate:
    /// the message cannot be authenticated (401).
    Untrusted(String),
    /// The certificate could not be fetched right now (503, so SNS retries).
    Unavailable(String),
}

fn cert_cache() -> &'static Mutex<HashMap<String, Arc<Vec<u8>>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cert_client() -> Result<&'static reqwest::Client, CertError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true)
        .timeout(CERT_FETCH_TIMEOUT)
        .build()
        .map_err(|err| CertError::Unavailable(format!("cannot build the HTTPS client: {err}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// The PEM for `url`: pinned, cached, or fetched (and then cached).
pub async fn signing_certificate(settings: &Settings, url: &str) -> Result<Arc<Vec<u8>>, CertError> {
    validate_cert_url(url).map_err(|err| CertError::Untrusted(err.to_string()))?;
    if let Some(pem) = settings.trusted_sns_certs.get(url) {
        return Ok(Arc::new(pem.clone()));
    }
    if let Some(pem) = cert_cache().lock().ok().and_then(|cache| cache.get(url).cloned()) {
        return Ok(pem);
    }
    let pem = Arc::new(fetch_certificate(url).await?);
    if let Ok(mut cache) = cert_cache().lock() {
        if cache.len() >= MAX_CACHED_CERTS {
            cache.clear();
        }
        cache.insert(url.to_string(), pem.clone());
    }
    Ok(pem)
}

async fn fetch_certificate(url: &str) -> Result<Vec<u8>, CertError> {
    let mut response = cert_client()?
        .get(url)
        .send()
        .await
        .map_err(|err| CertError::Unavailable(format!("fetching the SNS signing certificate failed: {err}")))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(CertError::Unavailable(format!("the SNS certificate host answered {status}")));
    }
    if !status.is_success() {
        // Redirects land here too: they are never followed.
        return Err(CertError::Untrusted(format!("the SigningCertURL answered {status}")));
    }
    let mut pem = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| CertError::Unavailable(format!("reading the SNS signing certificate failed: {err}")))?
    {
        pem.extend_from_slice(&chunk);
        if pem.len() > MAX_CERT_BYTES {
            return Err(CertError::Untrusted(format!("the SigningCertURL served more than {MAX_CERT_BYTES} bytes")));
        }
    }
    Ok(pem)
}

/// Parses one `--trust-sns-cert URL=PEM_FILE` value: the URL must be one SNS could sign from
/// (anything else would never be consulted), and the file must hold a certificate.
pub fn parse_trusted_cert(arg: &str) -> Result<(String, Vec<u8>), String> {
    let (url, path) =
        arg.split_once('=').ok_or_else(|| format!("--trust-sns-cert expects URL=PEM_FILE, got {arg:?}"))?;
    validate_cert_url(url).map_err(|err: VerifyError| format!("--trust-sns-cert: {err}"))?;
    let pem = std::fs::read(path).map_err(|err| format!("--trust-sns-cert: cannot read {path}: {err}"))?;
    if !pem.windows(b"-----BEGIN CERTIFICATE-----".len()).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!("--trust-sns-cert: {path} holds no PEM certificate"));
    }
    Ok((url.to_string(), pem))
}

/// `ConfirmSubscription` through the AWS SDK, in the topic's own region (SNS requires it).
pub struct SdkSubscriptionConfirmer {
    base: aws_sdk_sns::Config,
    clients: Mutex<HashMap<String, aws_sdk_sns::Client>>,
}

impl SdkSubscriptionConfirmer {
    /// `base` carries credentials and endpoint; the region is set per topic.
    pub fn new(base: aws_sdk_sns::Config) -> Self {
        let base = base
            .to_builder()
            .timeout_config(TimeoutConfig::builder().operation_timeout(CONFIRM_TIMEOUT).build())
            .build();
        Self { base, clients: Mutex::new(HashMap::new()) }
    }

    /// Region, credentials and endpoint (`AWS_ENDPOINT_URL_SNS`, ...) from the environment, as
    /// the Lambda execution role provides them.
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(aws_sdk_sns::Config::from(&config))
    }

    fn client(&self, region: &str) -> aws_sdk_sns::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                aws_sdk_sns::Client::from_conf(self.base.to_builder().region(Region::new(region.to_string())).build())
            })
            .clone()
    }
}

impl SubscriptionConfirmer for SdkSubscriptionConfirmer {
    fn confirm_subscription<'a>(&'a self, topic_arn: &'a str, token: &'a str) -> ConfirmFuture<'a> {
        Box::pin(async move {
            let region = topic_arn
                .split(':')
                .nth(3)
                .filter(|region| !region.is_empty())
                .ok_or_else(|| ConfirmError(format!("topic ARN {topic_arn:?} names no region")))?;
            let output =
                self.client(region).confirm_subscription().topic_arn(topic_arn).token(token).send().await.map_err(
                    |err| ConfirmError(format!("ConfirmSubscription failed: {}", DisplayErrorContext(&err))),
                )?;
            Ok(output.subscription_arn().unwrap_or_default().to_string())
        })
    }
}

/// The state's confirmer, or the SDK one built from the environment on first use (once per
/// container, and only by requests that need it, so cold starts stay cheap).
pub async fn confirmer(state: &AppState) -> Arc<dyn SubscriptionConfirmer> {
    static FROM_ENV: tokio::sync::OnceCell<Arc<SdkSubscriptionConfirmer>> = tokio::sync::OnceCell::const_new();
    if let Some(confirmer) = &state.sns_confirmer {
        return confirmer.clone();
    }
    FROM_ENV.get_or_init(|| async { Arc::new(SdkSubscriptionConfirmer::from_env().await) }).await.clone()
}
