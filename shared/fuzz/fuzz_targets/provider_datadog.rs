//! `POST /v1/webhooks/{workspaceId}/datadog`: the Datadog Webhooks integration
//! (default payload, recommended template, hand-written shapes).
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::Datadog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&Datadog, data, signs_body));
