//! Every signature failure mode for every provider that signs.

use crate::support::{headers, hmac_hex};
use causeloop_providers::{provider, registry, AuthRequirement, Headers, VerifyError};

const SECRET: &[u8] = b"whsec_workspace_key_secret";
const BODY: &[u8] = br#"{"title":"t","description":"d"}"#;
const NOW: i64 = 1_741_084_000;

fn verify(name: &str, headers: &Headers, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    provider(name).unwrap().verify(headers, body, secret, NOW)
}

/// The providers whose signature is `hex(HMAC-SHA256(secret, body))` in one header.
const BODY_HMAC: &[(&str, &str)] = &[
    ("custom", "X-Webhook-Signature"),
    ("sentry", "Sentry-Hook-Signature"),
    ("grafana", "X-Grafana-Alerting-Signature"),
];

#[test]
fn body_hmac_providers_accept_a_good_signature_in_any_header_case() {
    let good = hmac_hex(SECRET, &[BODY]);
    for (name, header) in BODY_HMAC {
        assert_eq!(verify(name, &headers(&[(header, &good)]), BODY, SECRET), Ok(()), "{name}");
        let lower = header.to_ascii_lowercase();
        assert_eq!(verify(name, &headers(&[(&lower, &good)]), BODY, SECRET), Ok(()), "{name}");
    }
}

#[test]
fn body_hmac_providers_fail_closed() {
    let good = hmac_hex(SECRET, &[BODY]);
    let other_secret = hmac_hex(b"another secret", &[BODY]);
    for (name, header) in BODY_HMAC {
        let check = |value: Option<&str>, body: &[u8], secret: &[u8]| {
            let h = match value {
                Some(v) => headers(&[(header, v)]),
                None => Headers::new(),
            };
            verify(name, &h, body, secret)
        };
        assert!(matches!(check(None, BODY, SECRET), Err(VerifyError::MissingHeader(_))), "{name}: missing");
        assert!(matches!(check(Some(""), BODY, SECRET), Err(VerifyError::MissingHeader(_))), "{name}: blank");
        assert!(matches!(check(Some("zz-not-hex"), BODY, SECRET), Err(VerifyError::BadHex { .. })), "{name}: bad hex");
        assert!(
            matches!(check(Some(&good[..62]), BODY, SECRET), Err(VerifyError::WrongLength { got: 31, .. })),
            "{name}: short"
        );
        assert!(
            matches!(check(Some(&format!("{good}00")), BODY, SECRET), Err(VerifyError::WrongLength { got: 33, .. })),
            "{name}: long"
        );
        assert_eq!(check(Some(&other_secret), BODY, SECRET), Err(VerifyError::Mismatch), "{name}: wrong secret");
        assert_eq!(
            check(Some(&good), br#"{"title":"T","description":"d"}"#, SECRET),
            Err(VerifyError::Mismatch),
            "{name}: tampered body"
        );
        assert_eq!(check(Some(&good), BODY, b""), Err(VerifyError::NoSecret), "{name}: no secret");
    }
}

#[test]
fn sentry_accepts_a_relayed_x_webhook_signature_when_its_own_header_is_absent() {
    let good = hmac_hex(SECRET, &[BODY]);
    assert_eq!(verify("sentry", &headers(&[("X-Webhook-Signature", &good)]), BODY, SECRET), Ok(()));
}

#[test]
fn grafana_accepts_its_default_header_name() {
    let good = hmac_hex(SECRET, &[BODY]);
    assert_eq!(verify("grafana", &headers(&[("X-Grafana-Alert-Signature", &good)]), BODY, SECRET), Ok(()));
}

fn grafana_timestamped(timestamp: &str, signed_timestamp: &str) -> Headers {
    let signature = hmac_hex(SECRET, &[signed_timestamp.as_bytes(), b":", BODY]);
    headers(&[("X-Grafana-Alerting-Signature", &signature), ("X-Grafana-Alerting-Timestamp", timestamp)])
}

#[test]
fn grafana_timestamped_signatures_cover_timestamp_colon_body() {
    let now = NOW.to_string();
    assert_eq!(verify("grafana", &grafana_timestamped(&now, &now), BODY, SECRET), Ok(()));
    let edge = (NOW - 300).to_string();
    assert_eq!(verify("grafana", &grafana_timestamped(&edge, &edge), BODY, SECRET), Ok(()));
    // A body-only signature is not valid once a timestamp is sent, and vice versa.
    let body_only = hmac_hex(SECRET, &[BODY]);
    let h = headers(&[("X-Grafana-Alerting-Signature", &body_only), ("X-Grafana-Alerting-Timestamp", &now)]);
    assert_eq!(verify("grafana", &h, BODY, SECRET), Err(VerifyError::Mismatch));
    let stripped = headers(&[(
        "X-Grafana-Alerting-Signature",
        grafana_timestamped(&now, &now).get("x-grafana-alerting-signature").unwrap(),
    )]);
    assert_eq!(verify("grafana", &stripped, BODY, SECRET), Err(VerifyError::Mismatch));
    // The timestamp is signed: replaying with a fresh timestamp breaks the MAC.
    let old = (NOW - 3600).to_string();
    assert_eq!(verify("grafana", &grafana_timestamped(&now, &old), BODY, SECRET), Err(VerifyError::Mismatch));
}

#[test]
fn grafana_refuses_stale_and_future_timestamps() {
    for skew in [-301, 301, -86_400, 86_400] {
        let ts = (NOW + skew).to_string();
        assert!(
            matches!(
                verify("grafana", &grafana_timestamped(&ts, &ts), BODY, SECRET),
                Err(VerifyError::StaleTimestamp { .. })
            ),
            "skew {skew}"
        );
    }
    let extreme = i64::MIN.to_string();
    assert!(matches!(
        verify("grafana", &grafana_timestamped(&extreme, &extreme), BODY, SECRET),
        Err(VerifyError::StaleTimestamp { .. })
    ));
}

#[test]
fn grafana_refuses_unreadable_timestamps() {
    for ts in ["", "soon", "1741084000.5", "0x10"] {
        assert!(
            matches!(
                verify("grafana", &grafana_timestamped(ts, ts), BODY, SECRET),
                Err(VerifyError::BadTimestamp { .. })
            ),
            "{ts:?}"
        );
    }
}

fn pagerduty(value: &str) -> Result<(), VerifyError> {
    verify("pagerduty", &headers(&[("X-PagerDuty-Signature", value)]), BODY, SECRET)
}

#[test]
fn pagerduty_accepts_any_matching_v1_signature() {
    let good = hmac_hex(SECRET, &[BODY]);
    let old = hmac_hex(b"rotated-out", &[BODY]);
    assert_eq!(pagerduty(&format!("v1={good}")), Ok(()));
    assert_eq!(pagerduty(&format!("v1={old},v1={good}")), Ok(()));
    assert_eq!(pagerduty(&format!("v1={good}, v1={old}")), Ok(()));
    assert_eq!(pagerduty(&format!("v1=zz,v1={good}")), Ok(()));
}

#[test]
fn pagerduty_fails_closed() {
    let good = hmac_hex(SECRET, &[BODY]);
    let old = hmac_hex(b"rotated-out", &[BODY]);
    assert_eq!(
        verify("pagerduty", &Headers::new(), BODY, SECRET),
        Err(VerifyError::MissingHeader("X-PagerDuty-Signature"))
    );
    assert!(matches!(pagerduty(&good), Err(VerifyError::BadFormat { .. })), "bare hex");
    assert!(matches!(pagerduty(&format!("v2={good}")), Err(VerifyError::BadFormat { .. })));
    assert!(matches!(pagerduty("v1=not-hex"), Err(VerifyError::BadHex { .. })));
    assert!(matches!(pagerduty(&format!("v1={}", &good[..40])), Err(VerifyError::WrongLength { got: 20, .. })));
    assert_eq!(pagerduty(&format!("v1={old}")), Err(VerifyError::Mismatch));
    assert_eq!(pagerduty(&format!("v1={old},v1={old}")), Err(VerifyError::Mismatch));
    assert_eq!(
        verify("pagerduty", &headers(&[("X-PagerDuty-Signature", &format!("v1={good}"))]), BODY, b""),
        Err(VerifyError::NoSecret)
    );
}

#[test]
fn auth_requirements_match_what_each_tool_can_send() {
    let expected = |name: &str| match name {
        "custom" => AuthRequirement::ApiKeyAndHmac,
        "sentry" | "grafana" | "pagerduty" => AuthRequirement::ApiKeyAndOwnSignature,
        "cloudwatch" => AuthRequirement::SnsSignature,
        _ => AuthRequirement::ApiKeyOnly,
    };
    for p in registry() {
        assert_eq!(p.auth(), expected(p.name()), "{}", p.name());
    }
}

#[test]
fn unsigned_providers_verify_with_the_key_alone_and_cloudwatch_needs_sns() {
    for p in registry() {
        let result = p.verify(&Headers::new(), BODY, SECRET, NOW);
        match p.auth() {
            AuthRequirement::ApiKeyOnly => assert_eq!(result, Ok(()), "{}", p.name()),
            AuthRequirement::SnsSignature => {
                assert_eq!(result, Err(VerifyError::SnsCertificateRequired))
            }
            _ => assert!(result.is_err(), "{} accepted an unsigned request", p.name()),
        }
    }
}
