//! Fix texts: normalization, a canonical token set, and grouping of the many ways one fix is
//! written ("Restarted the pods", "pod restart", "restart of api pods").
//!
//! The method is deliberately simple and deterministic:
//! 1. lowercase; every character that is not a letter or digit separates words;
//! 2. "roll back" / "rolled back" become one word, `rollback`;
//! 3. stem-lite: strip one of `-ing`, `-ment`, `-ed`, `-es`, `-s` (never `-ss`) when at least three
//!    letters remain, undouble a final doubled consonant left by it (`stopped` → `stop`, but not
//!    `l`, `s`, `z`: `rolled` → `roll`), then strip a final `-e` (`scale`, `scaled`, `scaling` →
//!    `scal`);
//! 4. a few synonyms on stems: `reboot`, `bounc`, `recycl` → `restart`; `revert` → `rollback`;
//! 5. stopwords (articles, pronouns, auxiliaries, and words every fix shares: `issue`, `fix`,
//!    `resolv`, ...) and words made only of digits (times, dates, counts) are dropped;
//! 6. the first [`MAX_FIX_TOKENS`] distinct stems, sorted, are the text's token set.
//!
//! Two texts are the same fix when the Jaccard similarity of their token sets is at least
//! [`GROUP_SIMILARITY`]. A text joins the existing group it is most similar to (ties: the older
//! group); a group's token set is its first text's and never drifts. A token set is kept as its
//! canonical key, the sorted tokens joined by spaces (`"api pod restart"`).

use serde::{Deserialize, Serialize};

/// Distinct stems kept per fix text.
pub const MAX_FIX_TOKENS: usize = 16;
/// Jaccard similarity of token sets at which two texts are one fix.
pub const GROUP_SIMILARITY: f64 = 0.5;
/// Characters kept of a fix text shown as a group's representative.
pub const MAX_TEXT_CHARS: usize = 160;

/// Articles, pronouns, auxiliaries, and words every fix shares (also as stems: `resolv`, `wa`).
/// A `match` on string literals: the compiler dispatches on length first.
fn is_stopword(word: &str) -> bool {
    matches!(
        word,
        "a" | "after"
            | "again"
            | "all"
            | "also"
            | "an"
            | "and"
            | "any"
            | "appli"
            | "applied"
            | "apply"
            | "are"
            | "as"
            | "at"
            | "be"
            | "been"
            | "before"
            | "being"
            | "by"
            | "can"
            | "could"
            | "did"
            | "do"
            | "fix"
            | "fixed"
            | "fixing"
            | "for"
            | "from"
            | "ha"
            | "had"
            | "has"
            | "have"
            | "i"
            | "in"
            | "into"
            | "is"
            | "issue"
            | "it"
            | "its"
            | "my"
            | "no"
            | "not"
            | "now"
            | "of"
            | "on"
            | "or"
            | "our"
            | "problem"
            | "resolution"
            | "resolv"
            | "should"
            | "so"
            | "solv"
            | "some"
            | "that"
            | "the"
            | "their"
            | "them"
            | "then"
            | "these"
            | "they"
            | "this"
            | "those"
            | "to"
            | "us"
            | "via"
            | "wa"
            | "was"
            | "we"
            | "were"
            | "which"
            | "who"
            | "will"
            | "with"
            | "would"
    )
}

const SYNONYMS: &[(&str, &str)] = &[
    ("reboot", "restart"),
    ("bounc", "restart"),
    ("recycl", "restart"),
    ("revert", "rollback"),
    ("rollback", "rollback"),
];

fn stem(word: &str) -> String {
    let mut w = word.to_string();
    if !w.is_ascii() {
        return w;
    }
    let mut stripped = false;
    for suffix in ["ing", "ment", "ed", "es", "s"] {
        if w.len() >= suffix.len() + 3 && w.ends_with(suffix) {
            if suffix == "s" && w.ends_with("ss") {
                break;
            }
            w.truncate(w.len() - suffix.len());
            stripped = true;
            break;
        }
    }
    let bytes = w.as_bytes();
    if stripped && bytes.len() >= 4 {
        let (last, before) = (bytes[bytes.len() - 1], bytes[bytes.len() - 2]);
        if last == before && !b"aeioulsz".contains(&last) {
            w.pop();
        }
    }
    if w.len() >= 4 && w.ends_with('e') {
        w.pop();
    }
    for (from, to) in SYNONYMS {
        if w == *from {
            return (*to).to_string();
        }
    }
    w
}

/// The canonical token set of a fix text: sorted, distinct, at most [`MAX_FIX_TOKENS`].
/// Empty when the text says nothing beyond stopwords and numbers.
pub fn fix_tokens(text: &str) -> Vec<String> {
    let mut t = Tokenizer { tokens: Vec::new(), word: String::new(), roll: false };
    // Lazy: a long text is read only as far as its first MAX_FIX_TOKENS distinct stems.
    if text.is_ascii() {
        for raw in text.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
            if t.tokens.len() >= MAX_FIX_TOKENS {
                break;
            }
            if let (false, Ok(raw)) = (raw.is_empty(), std::str::from_utf8(raw)) {
                t.push(raw);
            }
        }
    } else {
        for raw in text.split(|c: char| !c.is_alphanumeric()) {
            if t.tokens.len() >= MAX_FIX_TOKENS {
                break;
            }
            if !raw.is_empty() {
                t.push(raw);
            }
        }
    }
    t.finish()
}

struct Tokenizer {
    tokens: Vec<String>,
    word: String,
    /// The previous word was a form of "roll": "back" makes it `rollback`.
    roll: bool,
}

impl Tokenizer {
    fn push(&mut self, raw: &str) {
        self.word.clear();
        if raw.is_ascii() {
            self.word.push_str(raw);
            self.word.make_ascii_lowercase();
        } else {
            self.word.extend(raw.chars().flat_map(char::to_lowercase));
        }
        if std::mem::take(&mut self.roll) {
            if self.word == "back" {
                self.add("rollback".to_string());
                return;
            }
            self.add("roll".to_string());
        }
        if matches!(self.word.as_str(), "roll" | "rolled" | "rolling" | "rolls") {
            self.roll = true;
            return;
        }
        if is_stopword(&self.word) || self.word.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        let token = stem(&self.word);
        self.add(token);
    }

    fn add(&mut self, token: String) {
        if token.is_empty() || is_stopword(&token) || self.tokens.len() >= MAX_FIX_TOKENS {
            return;
        }
        if !self.tokens.contains(&token) {
            self.tokens.push(token);
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.roll {
            self.add("roll".to_string());
        }
        self.tokens.sort();
        self.tokens
    }
}

/// The canonical key of a fix text: its token set joined by spaces (`"pod restart"`).
pub fn fix_key(text: &str) -> String {
    fix_tokens(text).join(" ")
}

/// A 64-bit hash of a token, eight bytes at a time (multiply-rotate mixing; only equality matters).
fn hash_token(token: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = K ^ token.len() as u64;
    for chunk in token.chunks(8) {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(bytes)).wrapping_mul(K).rotate_left(29);
    }
    (h ^ (h >> 32)).wrapping_mul(K)
}

/// The hashes of a canonical key's tokens, sorted; the count in `out`.
fn token_hashes(key: &str, out: &mut [u64; MAX_FIX_TOKENS]) -> usize {
    let mut n = 0;
    for token in key.as_bytes().split(|&b| b == b' ') {
        if token.is_empty() {
            continue;
        }
        if n == MAX_FIX_TOKENS {
            break;
        }
        out[n] = hash_token(token);
        n += 1;
    }
    out[..n].sort_unstable();
    n
}

/// Jaccard similarity of two sorted hash sets.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        0.0
    } else {
        common as f64 / union as f64
    }
}

/// Jaccard similarity of the token sets of two canonical keys ([`fix_key`]: distinct tokens
/// joined by single spaces); 0 when both are empty. Tokens are compared by 64-bit hash, which
/// touches each key's bytes once.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (mut x, mut y) = ([0u64; MAX_FIX_TOKENS], [0u64; MAX_FIX_TOKENS]);
    let (n, m) = (token_hashes(a, &mut x), token_hashes(b, &mut y));
    jaccard(&x[..n], &y[..m])
}

/// The first [`MAX_TEXT_CHARS`] characters of a fix text, whitespace collapsed.
pub fn clip_text(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars >= MAX_TEXT_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        if word.is_ascii() {
            let take = word.len().min(MAX_TEXT_CHARS - chars);
            out.push_str(&word[..take]);
            chars += take;
            continue;
        }
        for c in word.chars() {
            if chars >= MAX_TEXT_CHARS {
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// One way a fix was written, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub text: String,
    pub count: u32,
}

/// Written forms kept per fix group (the most used ones; the first one seen wins ties).
pub const MAX_VARIANTS: usize = 3;

/// A group of fix texts judged to be one fix, with its outcomes on one Pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixGroup {
    /// Unique within its Pattern, never reused.
    pub id: u32,
    /// The canonical key ([`fix_key`]) of the group's first text, e.g. `"pod restart"`.
    pub key: String,
    pub variants: Vec<Variant>,
    /// Resolutions that applied this fix (held, failed and pending).
    pub resolutions: u32,
    /// Resolutions after which the Pattern did not recur within the hold window.
    pub held: u32,
    /// Resolutions after which it did.
    pub failed: u32,
    pub last_used: i64,
}

impl FixGroup {
    pub(crate) fn new(id: u32, key: String, text: &str, at: i64) -> Self {
        Self {
            id,
            key,
            variants: vec![Variant { text: clip_text(text), count: 1 }],
            resolutions: 1,
            held: 0,
            failed: 0,
            last_used: at,
        }
    }

    /// The written form used most often (the earliest among equals).
    pub fn representative(&self) -> &str {
        let mut best: Option<&Variant> = None;
        for v in &self.variants {
            if best.is_none_or(|b| v.count > b.count) {
                best = Some(v);
            }
        }
        best.map_or("", |v| v.text.as_str())
    }

    pub(crate) fn add_use(&mut self, text: &str, at: i64) {
        self.resolutions = self.resolutions.saturating_add(1);
        self.last_used = self.last_used.max(at);
        let clipped = clip_text(text);
        if let Some(v) = self.variants.iter_mut().find(|v| v.text.eq_ignore_ascii_case(&clipped)) {
            v.count = v.count.saturating_add(1);
        } else if self.variants.len() < MAX_VARIANTS {
            self.variants.push(Variant { text: clipped, count: 1 });
        } else if let Some(least) = self.variants.iter_mut().skip(1).min_by_key(|v| v.count) {
            // The first form stays; the least used other form gives way when it was used once.
            if least.count <= 1 {
                *least = Variant { text: clipped, count: 1 };
            }
        }
    }
}

/// Index of the group the text with canonical key `key` belongs to: the most similar one at or above
/// [`GROUP_SIMILARITY`], the older one among equals.
pub fn best_group(groups: &[FixGroup], key: &str) -> Option<usize> {
    let (mut mine, mut theirs) = ([0u64; MAX_FIX_TOKENS], [0u64; MAX_FIX_TOKENS]);
    let n = token_hashes(key, &mut mine);
    let mut best: Option<(usize, f64)> = None;
    for (i, g) in groups.iter().enumerate() {
        let m = token_hashes(&g.key, &mut theirs);
        let s = jaccard(&mine[..n], &theirs[..m]);
        if s >= GROUP_SIMILARITY && best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_jaccard_on_keys() {
        assert_eq!(similarity("pod restart", "pod restart"), 1.0);
        assert_eq!(similarity("api pod restart", "pod restart"), 2.0 / 3.0);
        assert_eq!(similarity("a b", "c d"), 0.0);
        assert_eq!(similarity("", ""), 0.0);
        assert_eq!(similarity("", "pod"), 0.0);
        assert_eq!(similarity("b c d e", "a c e f"), 2.0 / 6.0);
    }

    #[test]
    fn stopwords_are_recognised() {
        assert!(is_stopword("the") && is_stopword("resolv") && is_stopword("would") && is_stopword("a"));
        assert!(!is_stopword("restart") && !is_stopword("") && !is_stopword("thee"));
    }

    #[test]
    fn clipping_collapses_whitespace_and_counts_characters() {
        assert_eq!(clip_text("  restart\n the   pods "), "restart the pods");
        let long = "é".repeat(MAX_TEXT_CHARS + 50);
        assert_eq!(clip_text(&long).chars().count(), MAX_TEXT_CHARS);
        let clipped = clip_text(&"ab ".repeat(200));
        assert!(clipped.chars().count() <= MAX_TEXT_CHARS && !clipped.ends_with(' '));
    }

    fn same(a: &str, b: &str) -> bool {
        similarity(&fix_key(a), &fix_key(b)) >= GROUP_SIMILARITY
    }

    #[test]
    fn one_fix_written_many_ways_is_one_group() {
        assert_eq!(fix_key("Restarted the pods"), "pod restart");
        assert_eq!(fix_key("pod restart"), "pod restart");
        assert_eq!(fix_key("restart of api pods"), "api pod restart");
        assert!(same("Restarted the pods", "restart of api pods"));
        assert!(same("pod restart", "Rebooted pods"));
        assert!(same("Rolled back the deploy", "rollback deployment"));
        assert!(same("reverted the deploy", "Roll back deploy"));
        assert!(same("Scaled up the workers", "scaling up workers"));
        assert!(same("Increased the connection pool size", "increase connection pool"));
        assert!(same("Stopped the cron job", "stopping cron jobs"));
    }

    #[test]
    fn different_fixes_stay_apart() {
        assert!(!same("restart the pods", "delete the pods"));
        assert!(!same("increase memory limit", "increase connection pool limit"));
        assert!(!same("rollback deploy", "restart pods"));
        assert!(!same("scale up workers", "scale down workers and drain queue"));
    }

    #[test]
    fn numbers_stopwords_and_case_are_ignored() {
        assert_eq!(fix_key("Fixed: restarted 3 pods at 10:42 on 2024-01-02"), "pod restart");
        assert_eq!(fix_key("RESTARTED THE PODS."), fix_key("restarted the pods"));
        assert_eq!(fix_key("Rolled back; roll the dice"), "dic roll rollback");
        assert_eq!(fix_key("Neustart der Pods durchgeführt"), fix_key("neustart der pods durchgeführt"));
        assert!(fix_tokens("the issue was fixed").is_empty());
        assert!(fix_tokens("").is_empty());
    }

    #[test]
    fn stems_keep_words_apart_that_should_be() {
        assert_eq!(stem("rolled"), "roll");
        assert_eq!(stem("roll"), "roll");
        assert_eq!(stem("access"), "access");
        assert_eq!(stem("stopped"), "stop");
        assert_eq!(stem("scale"), stem("scaling"));
        assert_eq!(stem("größe"), "größe");
    }

    #[test]
    fn token_sets_and_variants_are_bounded() {
        let long: String = (0..200).map(|i| format!("word{i}x ")).collect();
        assert_eq!(fix_tokens(&long).len(), MAX_FIX_TOKENS);
        let mut g = FixGroup::new(0, fix_key("restart pods"), "restart pods", 0);
        for i in 0..50 {
            g.add_use(&format!("restart pods {}", "x".repeat(i % 7)), i as i64);
        }
        g.add_use(&"y".repeat(10_000), 99);
        assert!(g.variants.len() <= MAX_VARIANTS);
        assert!(g.variants.iter().all(|v| v.text.chars().count() <= MAX_TEXT_CHARS));
        assert_eq!(g.resolutions, 52);
    }

    #[test]
    fn representative_is_the_most_used_form() {
        let mut g = FixGroup::new(0, fix_key("pod restart"), "pod restart", 0);
        g.add_use("Restarted the pods", 1);
        g.add_use("restarted the pods", 2);
        assert_eq!(g.representative(), "Restarted the pods");
    }

    #[test]
    fn best_group_prefers_the_most_similar_then_the_oldest() {
        let groups = vec![
            FixGroup::new(0, fix_key("restart api pods now"), "restart api pods now", 0),
            FixGroup::new(1, fix_key("restart pods"), "restart pods", 0),
            FixGroup::new(2, fix_key("pod restart"), "pod restart", 0),
        ];
        assert_eq!(best_group(&groups, &fix_key("Restarted the pods")), Some(1));
        assert_eq!(best_group(&groups, &fix_key("drain the queue")), None);
    }
}
