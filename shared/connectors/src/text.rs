//! Vendor text into ingest fields: within the ingest limits, never refused for length.
//!
//! A vendor record is not ours to reject: a ticket with a 2,000-character summary still becomes
//! an Issue. Text is cut at a character boundary to the ingest limit, marked with an ellipsis.

use causeloop_domain::limits::{MAX_BODY_BYTES, MAX_RESOLUTION_TEXT_CHARS, MAX_SHORT_FIELD_CHARS, MAX_TITLE_CHARS};

pub use causeloop_domain::text::{cut_bytes, cut_chars};

/// A title: one line, within the limit; `fallback` when the vendor's is empty.
pub fn title(text: &str, fallback: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = if line.is_empty() { fallback.to_string() } else { line };
    cut_chars(&line, MAX_TITLE_CHARS)
}

/// A body within the limit, or `None` when empty.
pub fn body(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| cut_bytes(text, MAX_BODY_BYTES))
}

/// A short field (service, team, environment) within the limit, or `None` when empty.
pub fn short(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| cut_chars(text, MAX_SHORT_FIELD_CHARS))
}

/// A resolution text within the limit, or `None` when empty.
pub fn fix(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| cut_chars(text, MAX_RESOLUTION_TEXT_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TITLE_CHARS + 100);
        let cut = title(&long, "x");
        assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
        assert!(cut.ends_with('…'));
        let bytes = cut_bytes(&"é".repeat(40_000), MAX_BODY_BYTES);
        assert!(bytes.len() <= MAX_BODY_BYTES);
        assert_eq!(title("  \n ", "fallback"), "fallback");
        assert_eq!(title("disk\nfull  again", "x"), "disk full again");
        assert_eq!(body("  "), None);
    }
}
