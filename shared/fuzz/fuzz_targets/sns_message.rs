//! Amazon SNS deliveries (`causeloop_providers::sns`), in the order the HTTP layer runs them:
//! `parse_sns_message` on the raw body, the string-to-sign, `validate_cert_url`,
//! `verify_sns_message` (certificate parsing, base64 signature, RSA check),
//! `check_sns_freshness`, and `validate_subscribe_url` for confirmations.
//! Input: `[certificate \0] body` (see `causeloop_fuzz`). The certificate (PEM or DER, as the
//! signing-certificate cache may hold either) defaults to the crate's test fixture; when the
//! input brings one, it is also checked against a well-formed sample message, so the
//! certificate parser is reached whatever the body.
#![no_main]

use std::sync::OnceLock;

use causeloop_fuzz::{split_context, NOW_UNIX};
use causeloop_providers::sns::{
    check_sns_freshness, parse_sns_message, validate_cert_url, validate_subscribe_url, verify_sns_message, SnsMessage,
    SnsMessageType,
};
use libfuzzer_sys::fuzz_target;

/// The RSA certificate the providers' own SNS tests sign with.
const FIXTURE_CERT: &[u8] = include_bytes!("../../providers/tests/fixtures/sns-signing-cert.pem");

/// A notification that passes every check before the signature itself (trusted certificate
/// URL, SignatureVersion 1, base64 signature), so a fuzzed certificate is always parsed.
fn sample_message() -> &'static SnsMessage {
    static SAMPLE: OnceLock<SnsMessage> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        parse_sns_message(include_bytes!("../../../events/alerts/cloudwatch-alarm.json")).expect("the sample parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let (certificate, body) = split_context(data);
    if let Some(certificate) = certificate {
        let _ = verify_sns_message(sample_message(), certificate);
    }
    let message = match parse_sns_message(body) {
        Ok(message) => message,
        Err(error) => {
            let _ = (error.to_string(), error.field());
            return;
        }
    };
    let _ = message.topic_region();
    let _ = message.string_to_sign();
    let _ = validate_cert_url(&message.signing_cert_url);
    if let Err(error) = verify_sns_message(&message, certificate.unwrap_or(FIXTURE_CERT)) {
        let _ = error.to_string();
    }
    let _ = check_sns_freshness(&message, NOW_UNIX);
    if message.message_type() == SnsMessageType::SubscriptionConfirmation {
        if let Some(url) = &message.subscribe_url {
            let _ = validate_subscribe_url(url);
        }
    }
});
