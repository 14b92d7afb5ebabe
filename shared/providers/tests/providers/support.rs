use causeloop_providers::{provider, CanonicalAlert, Headers, ParseError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A sample body from `events/alerts/`.
macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!("../../../../events/alerts/", $name))
    };
}
pub(crate) use sample;

pub fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().copied().collect()
}

pub fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

pub fn parse_with(name: &str, headers: &Headers, body: &str) -> Result<Vec<CanonicalAlert>, ParseError> {
    provider(name).unwrap_or_else(|| panic!("no provider {name}")).parse(headers, body.as_bytes())
}

pub fn parse(name: &str, body: &str) -> Result<Vec<CanonicalAlert>, ParseError> {
    parse_with(name, &Headers::new(), body)
}

pub fn parse_one(name: &str, body: &str) -> CanonicalAlert {
    let mut alerts = parse(name, body).expect("sample parses");
    assert_eq!(alerts.len(), 1, "{name}: expected one alert");
    alerts.remove(0)
}

/// The body with one JSON value replaced, for tampering with samples.
pub fn with(body: &str, pointer: &str, value: serde_json::Value) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(body).unwrap();
    *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} not in sample")) = value;
    doc.to_string()
}

/// The body with one object key removed.
pub fn without(body: &str, parent: &str, key: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(body).unwrap();
    let object = if parent.is_empty() { &mut doc } else { doc.pointer_mut(parent).unwrap() };
    assert!(object.as_object_mut().unwrap().remove(key).is_some(), "{key} not in sample");
    doc.to_string()
}
