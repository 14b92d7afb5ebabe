//! `POST /v1/webhooks/{workspaceId}/azure`: Azure Monitor action groups with the common alert schema.
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::AzureMonitor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&AzureMonitor, data, signs_body));
