//! `POST /v1/webhooks/{workspaceId}/cloudwatch`: CloudWatch alarms inside an Amazon
//! SNS envelope (the raw body, as the HTTP layer hands it to `parse`).
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{provider_webhook, signs_body};
use causeloop_providers::CloudWatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provider_webhook(&CloudWatch, data, signs_body));
