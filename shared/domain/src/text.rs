//! Cutting outside text to a limit, at a character boundary, marked with an ellipsis: for text
//! that is kept although too long (a vendor's record, a rejected record's id in a job report).

/// `text` cut to at most `max_chars` characters (the last one an ellipsis when cut).
pub fn cut_chars(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some(_) => {
            let keep: String = text.chars().take(max_chars.saturating_sub(1)).collect();
            format!("{keep}…")
        }
    }
}

/// `text` cut to at most `max_bytes` bytes of UTF-8, at a character boundary.
pub fn cut_bytes(text: &str, max_bytes: usize) -> String {
    let text = text.trim();
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let ellipsis = "…";
    let mut end = max_bytes.saturating_sub(ellipsis.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end])
}
