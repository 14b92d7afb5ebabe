use std::collections::BTreeMap;

/// Request headers with case-insensitive names. Build it from `http::HeaderMap` with
/// `map.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect()`.
/// A repeated header keeps every value, joined with ", " as HTTP allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(BTreeMap<String, String>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: &str, value: &str) {
        self.0
            .entry(name.to_ascii_lowercase())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// Like [`Headers::get`], but a header that is present and blank counts as absent.
    pub fn get_nonblank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (k, v) in iter {
            headers.insert(k.as_ref(), v.as_ref());
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_repeats_join() {
        let headers: Headers = [("X-Webhook-Signature", "ab"), ("x-webhook-signature", "cd")].into_iter().collect();
        assert_eq!(headers.get("X-WEBHOOK-SIGNATURE"), Some("ab, cd"));
        assert_eq!(headers.get("missing"), None);
    }

    #[test]
    fn blank_values_are_absent_for_get_nonblank() {
        let headers: Headers = [("A", "  ")].into_iter().collect();
        assert_eq!(headers.get("a"), Some("  "));
        assert_eq!(headers.get_nonblank("a"), None);
    }
}
