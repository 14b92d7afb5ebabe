//! `POST /v1/webhooks/{workspaceId}/sentry`: Sentry integration-platform webhooks
//! (resource from `Sentry-Hook-Resource` or the body) and the legacy plugin.
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::Sentry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&Sentry, data, signs_body));
