use crate::support::{parse, parse_one, sample, with, without};
use causeloop_providers::{AlertState, ParseError};
use serde_json::json;

const BODY: &str = sample!("custom.json");

#[test]
fn sample_maps_every_documented_field() {
    let alert = parse_one("custom", BODY);
    assert_eq!(alert.title, "Checkout latency above SLO");
    assert!(alert.description.starts_with("p99 latency"));
    assert_eq!(alert.source_alert_id, "checkout-latency-slo");
    assert_eq!(alert.severity.as_deref(), Some("high"));
    assert_eq!(alert.service.as_deref(), Some("checkout"));
    assert_eq!(alert.environment.as_deref(), Some("production"));
    assert_eq!(alert.tags["team"], "payments");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.raw["metadata"]["p99_ms"], 1720);
}

#[test]
fn title_and_description_are_required_and_named() {
    for field in ["title", "description"] {
        let err = parse("custom", &without(BODY, "", field)).unwrap_err();
        assert_eq!(err, ParseError::MissingField(field.into()));
        assert_eq!(err.field(), Some(field));
        let blank = parse("custom", &with(BODY, &format!("/{field}"), json!("  "))).unwrap_err();
        assert_eq!(blank.field(), Some(field));
        let number = parse("custom", &with(BODY, &format!("/{field}"), json!(7))).unwrap_err();
        assert_eq!(number.field(), Some(field));
    }
}

#[test]
fn severity_must_be_one_of_the_documented_words() {
    let upper = parse_one("custom", &with(BODY, "/severity", json!("CRITICAL")));
    assert_eq!(upper.severity.as_deref(), Some("critical"));
    let err = parse("custom", &with(BODY, "/severity", json!("sev1"))).unwrap_err();
    assert_eq!(err.field(), Some("severity"));
}

#[test]
fn tags_and_metadata_must_be_objects() {
    let err = parse("custom", &with(BODY, "/tags/team", json!(["a"]))).unwrap_err();
    assert_eq!(err.field(), Some("tags.team"));
    let err = parse("custom", &with(BODY, "/tags", json!("team:payments"))).unwrap_err();
    assert_eq!(err.field(), Some("tags"));
    let err = parse("custom", &with(BODY, "/metadata", json!(3))).unwrap_err();
    assert_eq!(err.field(), Some("metadata"));
}

#[test]
fn a_missing_source_alert_id_is_derived_from_title_service_and_environment() {
    let anonymous = without(BODY, "", "sourceAlertId");
    let first = parse_one("custom", &anonymous);
    let reworded = parse_one("custom", &with(&anonymous, "/description", json!("other words")));
    let other_service = parse_one("custom", &with(&anonymous, "/service", json!("cart")));
    assert!(first.source_alert_id.starts_with("sha256:"));
    assert_eq!(first.source_alert_id, reworded.source_alert_id);
    assert_ne!(first.source_alert_id, other_service.source_alert_id);
}

#[test]
fn bodies_that_are_not_json_objects_are_refused() {
    assert!(matches!(parse("custom", "not json"), Err(ParseError::InvalidJson(_))));
    assert!(matches!(parse("custom", "[1]"), Err(ParseError::InvalidJson(_))));
}
