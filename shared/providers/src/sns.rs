//! Amazon SNS HTTPS deliveries: the JSON envelope, the signing-certificate URL check and the
//! RSA signature check (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA).
//!
//! The HTTP layer, for every request to the `cloudwatch` provider:
//! 1. [`parse_sns_message`] the raw body;
//! 2. [`validate_cert_url`] (also done inside [`verify_sns_message`]) before fetching
//!    `SigningCertURL`, then fetch and cache the PEM by URL;
//! 3. [`verify_sns_message`] with that PEM;
//! 4. check `topic_arn` against the workspace allow-list (exact match), dedup on `message_id`
//!    (SNS keeps the id across its retries);
//! 5. for a `SubscriptionConfirmation`, call SNS `ConfirmSubscription` with `token` and the
//!    topic ARN, or GET `subscribe_url` after [`validate_subscribe_url`]; for a `Notification`,
//!    hand the body to the `cloudwatch` provider's `parse`; an `UnsubscribeConfirmation` needs
//!    nothing.

use crate::error::{ParseError, VerifyError};
use base64::Engine;
use serde::Deserialize;
use x509_cert::der::{Decode, DecodePem};
use x509_cert::Certificate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsMessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageType::Notification => "Notification",
            SnsMessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsMessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// The envelope SNS posts to an HTTPS subscriber. Values are kept exactly as delivered, since
/// the signature covers them byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    message_type_raw: String,
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    #[serde(rename = "SubscribeURL", alias = "SubscribeUrl")]
    pub subscribe_url: Option<String>,
    pub token: Option<String>,
    #[serde(rename = "UnsubscribeURL", alias = "UnsubscribeUrl")]
    pub unsubscribe_url: Option<String>,
    #[serde(skip)]
    message_type: Option<SnsMessageType>,
}

impl SnsMessage {
    pub fn message_type(&self) -> SnsMessageType {
        self.message_type.expect("set by parse_sns_message, the only constructor")
    }

    /// The AWS region of the topic, from its ARN (`arn:aws:sns:<region>:<account>:<name>`).
    pub fn topic_region(&self) -> Option<&str> {
        self.topic_arn.split(':').nth(3).filter(|r| !r.is_empty())
    }

    /// The exact bytes SNS signed: `Name\nValue\n` for each signed field in byte order.
    /// `Subject` is signed only for notifications and only when present; confirmations sign
    /// `SubscribeURL` and `Token` instead.
    pub fn string_to_sign(&self) -> Result<String, VerifyError> {
        let mut fields: Vec<(&str, &str)> = vec![("Message", &self.message), ("MessageId", &self.message_id)];
        match self.message_type() {
            SnsMessageType::Notification => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp));
            }
            kind @ (SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation) => {
                let subscribe_url = self
                    .subscribe_url
                    .as_deref()
                    .ok_or(VerifyError::MissingSignedField(kind.as_str(), "SubscribeURL"))?;
                let token = self.token.as_deref().ok_or(VerifyError::MissingSignedField(kind.as_str(), "Token"))?;
                fields.push(("SubscribeURL", subscribe_url));
                fields.push(("Timestamp", &self.timestamp));
                fields.push(("Token", token));
            }
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", self.message_type().as_str()));

        let mut out = String::new();
        for (name, value) in fields {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
        Ok(out)
    }
}

/// Reads an SNS envelope (`Content-Type: text/plain; charset=UTF-8`, JSON body).
pub fn parse_sns_message(raw_body: &[u8]) -> Result<SnsMessage, ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(raw_body).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ParseError::InvalidJson("expected a JSON object".into()));
    }
    for required in ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature"] {
        if !value.get(required).is_some_and(serde_json::Value::is_string) {
            return Err(ParseError::missing(required));
        }
    }
    if value.get("SigningCertURL").is_none() && value.get("SigningCertUrl").is_none() {
        return Err(ParseError::missing("SigningCertURL"));
    }
    let mut message: SnsMessage =
        serde_json::from_value(value).map_err(|e| ParseError::invalid("SNS envelope", e.to_string()))?;
    message.message_type = Some(match message.message_type_raw.as_str() {
        "Notification" => SnsMessageType::Notification,
        "SubscriptionConfirmation" => SnsMessageType::SubscriptionConfirmation,
        "UnsubscribeConfirmation" => SnsMessageType::UnsubscribeConfirmation,
        other => return Err(ParseError::invalid("Type", format!("{other:?} is not an SNS message type"))),
    });
    Ok(message)
}

/// Splits `https://host/path` into host and path, refusing anything a URL parser and an HTTP
/// client might read differently: userinfo, ports, backslashes, query strings or fragments
/// before the path.
fn https_host_and_rest(url: &str) -> Option<(String, &str)> {
    let rest = url.strip_prefix("https://")?;
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    if authority.is_empty() || authority.contains(['@', ':']) || rest.contains('\\') {
        return None;
    }
    Some((authority.to_ascii_lowercase(), rest))
}

/// `^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`, on an already lower-cased host.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(|region| region.len() >= 3 && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// `SigningCertURL` must be `https://sns.<region>.amazonaws.com[.cn]/<...>.pem` with no query or
/// fragment. Check this before fetching the certificate.
pub fn validate_cert_url(url: &str) -> Result<(), VerifyError> {
    let untrusted = || VerifyError::UntrustedCertUrl(url.to_owned());
    let (host, path) = https_host_and_rest(url).ok_or_else(untrusted)?;
    let path_ok =
        path.starts_with('/') && path.len() > "/.pem".len() && path.ends_with(".pem") && !path.contains(['?', '#']);
    if is_sns_host(&host) && path_ok {
        Ok(())
    } else {
        Err(untrusted())
    }
}

/// `SubscribeURL` must be an https URL on an SNS host before anyone GETs it.
pub fn validate_subscribe_url(url: &str) -> Result<(), VerifyError> {
    match https_host_and_rest(url) {
        Some((host, _)) if is_sns_host(&host) => Ok(()),
        _ => Err(VerifyError::UntrustedSubscribeUrl(url.to_owned())),
    }
}

/// rsaEncryption, the only key type SNS signs with.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// The first `CERTIFICATE` block of a PEM file (the leaf, when a chain is cached).
/// `Certificate::load_pem_chain` is avoided because it panics on empty input.
fn first_pem_certificate(pem: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).position(|w| w == needle);
    let start = find(pem, BEGIN)?;
    let end = start + find(&pem[start..], END)? + END.len();
    Some(&pem[start..end])
}

fn rsa_public_key_der(cert_pem: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let bad = |why: String| VerifyError::BadCertificate(why);
    let cert = match first_pem_certificate(cert_pem) {
        Some(block) => Certificate::from_pem(block).map_err(|e| bad(e.to_string()))?,
        // Some caches keep the DER bytes instead of the PEM text.
        None => Certificate::from_der(cert_pem).map_err(|e| bad(e.to_string()))?,
    };
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION_OID {
        return Err(bad(format!("key algorithm {} is not RSA", spki.algorithm.oid)));
    }
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| bad("public key is not a whole number of bytes".into()))
}

/// The oldest SNS message accepted: SNS's delivery policies cannot retry an HTTP/S endpoint for
/// longer than 3,600 s (a hard limit), plus 300 s of clock skew.
pub const MAX_SNS_MESSAGE_AGE_SECS: i64 = 3_600 + 300;
/// How far ahead of our clock a message's `Timestamp` may be (clock skew).
pub const MAX_SNS_MESSAGE_AHEAD_SECS: i64 = 300;

/// Refuses a message whose signed `Timestamp` SNS could not be delivering now: a captured
/// message replayed later (an old OK resolving a firing alarm) is refused whatever its
/// signature. Call after [`verify_sns_message`], so the time is one SNS signed.
pub fn check_sns_freshness(message: &SnsMessage, now_unix_seconds: i64) -> Result<(), VerifyError> {
    let out_of_window = || VerifyError::SnsMessageOutOfWindow {
        timestamp: message.timestamp.chars().take(64).collect(),
        max_age_secs: MAX_SNS_MESSAGE_AGE_SECS,
        max_ahead_secs: MAX_SNS_MESSAGE_AHEAD_SECS,
    };
    let sent = time::OffsetDateTime::parse(message.timestamp.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| out_of_window())?
        .unix_timestamp();
    let age = now_unix_seconds - sent;
    if !(-MAX_SNS_MESSAGE_AHEAD_SECS..=MAX_SNS_MESSAGE_AGE_SECS).contains(&age) {
        return Err(out_of_window());
    }
    Ok(())
}

/// Verifies `message` against the signing certificate fetched from its `SigningCertURL`.
/// Checks the URL first, so a certificate fetched from anywhere else is refused even when the
/// signature matches it.
pub fn verify_sns_message(message: &SnsMessage, cert_pem: &[u8]) -> Result<(), VerifyError> {
    validate_cert_url(&message.signing_cert_url)?;
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match message.signature_version.as_str() {
        "1" => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "2" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        other => return Err(VerifyError::UnsupportedSignatureVersion(other.to_owned())),
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(message.signature.trim())
        .map_err(|_| VerifyError::BadSignatureEncoding)?;
    let string_to_sign = message.string_to_sign()?;
    let public_key = rsa_public_key_der(cert_pem)?;
    ring::signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(string_to_sign.as_bytes(), &signature)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_sns_could_still_be_delivering_are_fresh() {
        let mut message = parse_sns_message(
            br#"{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:eu-west-1:1:t","Message":"{}",
                "Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"x",
                "SigningCertURL":"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem"}"#,
        )
        .unwrap();
        let sent = 1_767_225_600; // 2026-01-01T00:00:00Z
        assert!(check_sns_freshness(&message, sent).is_ok());
        assert!(check_sns_freshness(&message, sent + MAX_SNS_MESSAGE_AGE_SECS).is_ok(), "SNS's last retry");
        assert!(matches!(
            check_sns_freshness(&message, sent + MAX_SNS_MESSAGE_AGE_SECS + 1),
            Err(VerifyError::SnsMessageOutOfWindow { .. })
        ));
        assert!(check_sns_freshness(&message, sent - MAX_SNS_MESSAGE_AHEAD_SECS).is_ok());
        assert!(check_sns_freshness(&message, sent - MAX_SNS_MESSAGE_AHEAD_SECS - 1).is_err(), "from the future");
        message.timestamp = "yesterday".into();
        assert!(check_sns_freshness(&message, sent).is_err(), "an unreadable time is not fresh");
    }

    #[test]
    fn cert_urls_must_be_sns_https_pem() {
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://SNS.eu-west-1.AMAZONAWS.com/a.pem",
        ] {
            assert_eq!(validate_cert_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.com/a.pem",
            "https://evil.com/sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com@evil.com/a.pem",
            "https://sns.us-east-1.amazonaws.com:8443/a.pem",
            "https://sns.us-east-1.amazonaws.com\\@evil.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/a.pem#frag",
            "https://sns.us-east-1.amazonaws.com/a.txt",
            "https://sns.us-east-1.amazonaws.com/.pem/../x",
            "https://sns.ab.amazonaws.com/a.pem",
            "https://sns.us_east.amazonaws.com/a.pem",
            "https://sqs.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com",
            "",
        ] {
            assert!(validate_cert_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subscribe_urls_must_be_sns_https() {
        assert_eq!(
            validate_subscribe_url(
                "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=abc"
            ),
            Ok(())
        );
        assert!(validate_subscribe_url("https://evil.example/?Action=ConfirmSubscription").is_err());
        assert!(validate_subscribe_url("http://sns.us-west-2.amazonaws.com/").is_err());
    }
}
