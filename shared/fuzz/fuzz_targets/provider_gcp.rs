//! `POST /v1/webhooks/{workspaceId}/gcp`: Google Cloud Monitoring webhook channels (schema 1.2).
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::GoogleCloudMonitoring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&GoogleCloudMonitoring, data, signs_body));
