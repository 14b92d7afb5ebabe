//! `POST /v1/webhooks/{workspaceId}/custom`: Causeloop's own JSON shape, signed with `X-Webhook-Signature`.
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::Custom;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&Custom, data, signs_body));
