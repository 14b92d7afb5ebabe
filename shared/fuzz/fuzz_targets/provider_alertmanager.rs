//! `POST /v1/webhooks/{workspaceId}/alertmanager`: Prometheus Alertmanager webhook_config notifications (version 4).
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::Alertmanager;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&Alertmanager, data, signs_body));
