use crate::support::{parse, parse_one, sample, with, without};
use base64::Engine;
use causeloop_providers::sns::{parse_sns_message, validate_cert_url, verify_sns_message, SnsMessage, SnsMessageType};
use causeloop_providers::{parse_cloudwatch_alarm, AlertState, ParseError, VerifyError};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};

const ALARM: &str = sample!("cloudwatch-alarm.json");
const COMPOSITE: &str = sample!("cloudwatch-composite-alarm.json");
const CONFIRMATION: &str = sample!("cloudwatch-subscription-confirmation.json");

const SIGNING_KEY: &str = include_str!("../fixtures/sns-signing-key.pem");
const SIGNING_CERT: &[u8] = include_bytes!("../fixtures/sns-signing-cert.pem");
const OTHER_CERT: &[u8] = include_bytes!("../fixtures/other-signing-cert.pem");
const EC_CERT: &[u8] = include_bytes!("../fixtures/ec-signing-cert.pem");

fn sign_bytes(bytes: &[u8], version: &str) -> String {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(SIGNING_KEY).unwrap();
    let signature = match version {
        "1" => SigningKey::<sha1::Sha1>::new(key).sign(bytes).to_vec(),
        "2" => SigningKey::<sha2::Sha256>::new(key).sign(bytes).to_vec(),
        other => panic!("no signature version {other}"),
    };
    base64::engine::general_purpose::STANDARD.encode(signature)
}

/// The sample as SNS would send it had the fixture key signed it.
fn signed(body: &str, version: &str) -> String {
    let body = with(body, "/SignatureVersion", json!(version));
    let string_to_sign = parse_sns_message(body.as_bytes()).unwrap().string_to_sign().unwrap();
    with(&body, "/Signature", json!(sign_bytes(string_to_sign.as_bytes(), version)))
}

fn adding(body: &str, key: &str, value: Value) -> String {
    let mut doc: Value = serde_json::from_str(body).unwrap();
    assert!(doc.as_object_mut().unwrap().insert(key.into(), value).is_none());
    doc.to_string()
}

fn message(body: &str) -> SnsMessage {
    parse_sns_message(body.as_bytes()).unwrap()
}

fn verify(body: &str) -> Result<(), VerifyError> {
    verify_sns_message(&message(body), SIGNING_CERT)
}

#[test]
fn signature_versions_1_and_2_verify_for_every_message_type() {
    for sample in [ALARM, COMPOSITE, CONFIRMATION] {
        for version in ["1", "2"] {
            assert_eq!(verify(&signed(sample, version)), Ok(()), "version {version}");
        }
    }
}

#[test]
fn string_to_sign_follows_the_documented_layout() {
    let notification = message(ALARM);
    let expected_start = format!(
        "Message\n{}\nMessageId\n{}\nSubject\n{}\nTimestamp\n",
        notification.message,
        notification.message_id,
        notification.subject.as_deref().unwrap()
    );
    let text = notification.string_to_sign().unwrap();
    assert!(text.starts_with(&expected_start));
    assert!(text.ends_with("TopicArn\narn:aws:sns:eu-west-1:123456789012:causeloop-alarms\nType\nNotification\n"));

    let without_subject = message(COMPOSITE).string_to_sign().unwrap();
    assert!(!without_subject.contains("\nSubject\n"));

    let confirmation = message(CONFIRMATION);
    assert_eq!(
        confirmation.string_to_sign().unwrap(),
        format!(
            "Message\n{}\nMessageId\n{}\nSubscribeURL\n{}\nTimestamp\n{}\nToken\n{}\nTopicArn\n{}\nType\nSubscriptionConfirmation\n",
            confirmation.message,
            confirmation.message_id,
            confirmation.subscribe_url.as_deref().unwrap(),
            confirmation.timestamp,
            confirmation.token.as_deref().unwrap(),
            confirmation.topic_arn,
        )
    );
    assert!(confirmation.message.contains(".\nTo confirm"), "escaped newlines are decoded before signing");
}

#[test]
fn tampering_with_any_signed_field_fails() {
    for version in ["1", "2"] {
        let good = signed(ALARM, version);
        let tampered = [
            ("Message", with(&good, "/Message", json!("{\"AlarmName\":\"x\",\"NewStateValue\":\"OK\"}"))),
            ("TopicArn", with(&good, "/TopicArn", json!("arn:aws:sns:eu-west-1:999999999999:causeloop-alarms"))),
            ("MessageId", with(&good, "/MessageId", json!("00000000-0000-0000-0000-000000000000"))),
            ("Timestamp", with(&good, "/Timestamp", json!("2025-03-04T10:45:07.561Z"))),
            ("Subject changed", with(&good, "/Subject", json!("OK: \"checkout-api-5xx\""))),
            ("Subject removed", without(&good, "", "Subject")),
            ("Subject added", adding(&signed(COMPOSITE, version), "Subject", json!("ALARM"))),
        ];
        for (what, body) in tampered {
            assert_eq!(verify(&body), Err(VerifyError::Mismatch), "{what}, version {version}");
        }
    }
}

#[test]
fn tampering_with_confirmation_fields_or_type_fails() {
    let good = signed(CONFIRMATION, "2");
    let evil_url = with(&good, "/SubscribeURL", json!("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:999999999999:evil&Token=x"));
    assert_eq!(verify(&evil_url), Err(VerifyError::Mismatch));
    assert_eq!(verify(&with(&good, "/Token", json!("forged"))), Err(VerifyError::Mismatch));
    assert_eq!(verify(&with(&good, "/Type", json!("UnsubscribeConfirmation"))), Err(VerifyError::Mismatch));
    // A confirmation relabelled as a notification loses the fields its signature covers.
    assert_eq!(verify(&with(&good, "/Type", json!("Notification"))), Err(VerifyError::Mismatch));
    let no_token = without(&good, "", "Token");
    assert_eq!(verify(&no_token), Err(VerifyError::MissingSignedField("SubscriptionConfirmation", "Token")));
}

#[test]
fn signature_version_and_encoding_must_match() {
    let v1 = signed(ALARM, "1");
    assert_eq!(verify(&with(&v1, "/SignatureVersion", json!("2"))), Err(VerifyError::Mismatch));
    assert_eq!(
        verify(&with(&v1, "/SignatureVersion", json!("3"))),
        Err(VerifyError::UnsupportedSignatureVersion("3".into()))
    );
    assert_eq!(verify(&with(&v1, "/Signature", json!("%%%not base64%%%"))), Err(VerifyError::BadSignatureEncoding));
    assert_eq!(verify(&with(&v1, "/Signature", json!(""))), Err(VerifyError::Mismatch));
}

#[test]
fn only_the_certificate_that_signed_verifies() {
    let good = message(&signed(ALARM, "2"));
    assert_eq!(verify_sns_message(&good, OTHER_CERT), Err(VerifyError::Mismatch));
    assert!(matches!(verify_sns_message(&good, EC_CERT), Err(VerifyError::BadCertificate(_))));
    assert!(matches!(verify_sns_message(&good, b"not a certificate"), Err(VerifyError::BadCertificate(_))));
    assert!(matches!(verify_sns_message(&good, b""), Err(VerifyError::BadCertificate(_))));
}

#[test]
fn the_leaf_of_a_cached_chain_and_der_bytes_are_accepted() {
    let good = message(&signed(ALARM, "1"));
    let chain = [b"cached at 2025-03-04\n".as_slice(), SIGNING_CERT, OTHER_CERT].concat();
    assert_eq!(verify_sns_message(&good, &chain), Ok(()));
    let reversed = [OTHER_CERT, SIGNING_CERT].concat();
    assert_eq!(verify_sns_message(&good, &reversed), Err(VerifyError::Mismatch));
    let pem = std::str::from_utf8(SIGNING_CERT).unwrap();
    let base64_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(base64_body).unwrap();
    assert_eq!(verify_sns_message(&good, &der), Ok(()));
}

#[test]
fn a_certificate_from_outside_sns_is_refused_even_when_the_signature_matches() {
    let good = signed(ALARM, "2");
    for url in [
        "https://sns.eu-west-1.amazonaws.com.attacker.example/cert.pem",
        "https://attacker.example/SimpleNotificationService-1.pem",
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.txt",
    ] {
        let body = with(&good, "/SigningCertURL", json!(url));
        assert_eq!(verify(&body), Err(VerifyError::UntrustedCertUrl(url.into())), "{url}");
        assert!(validate_cert_url(url).is_err());
    }
}

#[test]
fn envelope_exposes_what_the_http_layer_needs() {
    let confirmation = message(CONFIRMATION);
    assert_eq!(confirmation.message_type(), SnsMessageType::SubscriptionConfirmation);
    assert_eq!(confirmation.topic_arn, "arn:aws:sns:eu-west-1:123456789012:causeloop-alarms");
    assert_eq!(confirmation.topic_region(), Some("eu-west-1"));
    assert_eq!(confirmation.message_id, "165545c9-2a5c-472c-8df2-7ff2be2b3b1b");
    assert!(confirmation.token.as_deref().unwrap().starts_with("2336412f"));
    assert!(confirmation.subscribe_url.as_deref().unwrap().contains("Action=ConfirmSubscription"));
    let notification = message(ALARM);
    assert_eq!(notification.message_type(), SnsMessageType::Notification);
    assert!(notification.unsubscribe_url.is_some());
    assert_eq!(notification.token, None);
}

#[test]
fn malformed_envelopes_name_the_field() {
    for field in
        ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"]
    {
        let err = parse_sns_message(without(ALARM, "", field).as_bytes()).unwrap_err();
        assert_eq!(err.field(), Some(field));
    }
    let err = parse_sns_message(with(ALARM, "/Type", json!("Gossip")).as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("Type"));
    assert!(matches!(parse_sns_message(b"Type=Notification"), Err(ParseError::InvalidJson(_))));
    // Lambda-style capitalisation of the URL fields is read too.
    let lambda_style = ALARM.replace("SigningCertURL", "SigningCertUrl").replace("UnsubscribeURL", "UnsubscribeUrl");
    assert!(message(&lambda_style).unsubscribe_url.is_some());
}

#[test]
fn metric_alarm_notification_becomes_a_firing_alert() {
    let alert = parse_one("cloudwatch", ALARM);
    assert_eq!(alert.title, "checkout-api-5xx");
    assert_eq!(alert.source_alert_id, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-5xx");
    assert_eq!(alert.state, AlertState::Firing);
    assert!(alert.description.starts_with("5xx responses from the checkout ALB target group\n\nThreshold Crossed"));
    assert_eq!(alert.started_at.as_deref(), Some("2025-03-04T10:45:07.514Z"));
    assert_eq!(alert.tags["aws_region"], "eu-west-1");
    assert_eq!(alert.tags["aws_account_id"], "123456789012");
    assert_eq!(alert.tags["alarm_type"], "metric");
    assert_eq!(alert.tags["namespace"], "AWS/ApplicationELB");
    assert_eq!(alert.tags["metric_name"], "HTTPCode_Target_5XX_Count");
    assert_eq!(alert.tags["dimension.LoadBalancer"], "app/checkout-alb/50dc6c495c0c9188");
    assert_eq!(alert.tags["previous_state"], "OK");
    assert_eq!(
        alert.url.as_deref(),
        Some("https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/checkout-api-5xx")
    );
    assert_eq!(alert.raw["Trigger"]["Threshold"], 10.0);
}

fn alarm_with(field: &str, value: Value) -> String {
    let envelope: Value = serde_json::from_str(ALARM).unwrap();
    let mut alarm: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    alarm[field] = value;
    alarm.to_string()
}

#[test]
fn ok_resolves_and_insufficient_data_is_neither() {
    let ok = parse_cloudwatch_alarm(&alarm_with("NewStateValue", json!("OK"))).unwrap().remove(0);
    assert_eq!(ok.state, AlertState::Resolved);
    assert_eq!(ok.ended_at.as_deref(), Some("2025-03-04T10:45:07.514Z"));
    assert_eq!(ok.started_at, None);
    let unknown = parse_cloudwatch_alarm(&alarm_with("NewStateValue", json!("INSUFFICIENT_DATA"))).unwrap().remove(0);
    assert_eq!(unknown.state, AlertState::Other("INSUFFICIENT_DATA".into()));
    assert_eq!(ok.source_alert_id, unknown.source_alert_id);
}

#[test]
fn composite_alarm_names_its_rule_and_triggering_children() {
    let alert = parse_one("cloudwatch", COMPOSITE);
    assert_eq!(alert.title, "checkout-degraded");
    assert_eq!(alert.source_alert_id, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-degraded");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.tags["alarm_type"], "composite");
    assert_eq!(alert.tags["alarm_rule"], "ALARM(checkout-api-5xx) AND ALARM(checkout-api-latency)");
    assert_eq!(
        alert.tags["triggering_children"],
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-5xx,arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-latency"
    );
    assert!(!alert.tags.contains_key("namespace"));
}

#[test]
fn an_alarm_without_an_arn_is_keyed_by_account_region_and_name() {
    let mut alarm: Value = serde_json::from_str(&alarm_with("AlarmName", json!("disk-full"))).unwrap();
    alarm.as_object_mut().unwrap().remove("AlarmArn");
    let alert = parse_cloudwatch_alarm(&alarm.to_string()).unwrap().remove(0);
    assert_eq!(alert.source_alert_id, "123456789012:EU (Ireland):disk-full");
    assert_eq!(alert.url, None);
}

#[test]
fn confirmations_carry_no_alert_and_bad_messages_are_refused() {
    assert!(parse("cloudwatch", CONFIRMATION).unwrap().is_empty());
    let plain_text = with(ALARM, "/Message", json!("hello from a human"));
    assert_eq!(parse("cloudwatch", &plain_text).unwrap_err().field(), Some("Message"));
    let nameless = with(ALARM, "/Message", json!("{\"NewStateValue\":\"ALARM\"}"));
    assert_eq!(parse("cloudwatch", &nameless).unwrap_err().field(), Some("Message.AlarmName"));
}
