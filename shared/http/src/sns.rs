//! The one Amazon SNS call the service makes, as a port: confirming an HTTPS subscription.
//!
//! The alerts family confirms a verified `SubscriptionConfirmation` with SNS `ConfirmSubscription`
//! (topic ARN + token) instead of fetching the `SubscribeURL`. Lambda and `causeloop serve` use
//! the AWS SDK adapter in `causeloop_api::alerts`; tests can point that adapter at moto or
//! install a recording implementation through [`crate::AppState::with_sns_confirmer`].

use std::future::Future;
use std::pin::Pin;

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
