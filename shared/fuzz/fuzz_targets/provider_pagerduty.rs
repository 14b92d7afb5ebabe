//! `POST /v1/webhooks/{workspaceId}/pagerduty`: PagerDuty V3 webhook events, signed as
//! `v1=<hex>` in `X-PagerDuty-Signature`.
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::PagerDuty;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&PagerDuty, data, signs_body));
