//! The inbound receiver's mapping (`causeloop_domain::inbound`), on the path a verified
//! `POST /v1/webhooks/inbound/{connector_id}` body takes in `shared/api/src/inbound.rs`: the
//! body must be a JSON object of at most 1 MiB, the connector's `config.field_mapping` is read
//! with `mapping_from_config`, `record_from_event` builds the ingest record and
//! `normalize_record` validates it like `POST /v1/ingest/events`.
//! Input: `[connector config \0] body` (see `causeloop_fuzz`); the config is JSON such as
//! `{"field_mapping":{"title":"/alert/summary"}}`, and none means no mapping.
//!
//! Beyond "no panic" this asserts the module's promise that a mapped event always validates:
//! the mapping cuts, hashes or leaves out what does not fit instead of failing the event, so a
//! source's event never comes back as a 422.
#![no_main]

use causeloop_domain::inbound::{mapping_from_config, parse_field_mapping, record_from_event};
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::limits::MAX_SINGLE_BODY_BYTES;
use causeloop_domain::ConnectorId;
use causeloop_fuzz::split_context;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The connector type whose receiver maps arbitrary events.
const CONNECTOR_TYPE: &str = "custom_api";
/// The walkthrough's connector name, used in the fallback title.
const CONNECTOR_NAME: &str = "Deploy Monitor";

fuzz_target!(|data: &[u8]| {
    let (config, body) = split_context(data);
    let config: Value = config.and_then(|config| serde_json::from_slice(config).ok()).unwrap_or(Value::Null);
    // The connectors API validates a mapping on write with `parse_field_mapping`; its errors are
    // answered to the caller.
    if let Some(mapping) = config.get("field_mapping") {
        if let Err(error) = parse_field_mapping("config.field_mapping", mapping) {
            let _ = serde_json::to_string(&error);
        }
    }
    let mapping = mapping_from_config(&config);

    // `json_object` answers 413 above the limit and 400 for anything but a JSON object.
    if body.len() > MAX_SINGLE_BODY_BYTES {
        return;
    }
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let connector_id = ConnectorId::random(1_767_225_600_000, [7; 10]);
    let record = record_from_event(&event, &mapping, CONNECTOR_TYPE, connector_id.as_str(), CONNECTOR_NAME);
    if let Err(error) = normalize_record(&record) {
        panic!("a mapped event must validate, but {}: {} ({})", error.field, error.message, error.error);
    }
});
