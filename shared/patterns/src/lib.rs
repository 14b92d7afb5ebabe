//! Incremental clustering of failure signals into patterns (templates with typed variable slots).
//!
//! The engine is pure: no I/O, clocks or randomness, and every decision is a deterministic function
//! of the state and the input, so a serialized engine continues exactly as the original would.
//!
//! # How a record becomes a pattern
//! 1. **Typed masking** ([`lexer`]): the record is split into words and punctuation; numbers, IPs,
//!    hex, UUIDs, paths, URLs, durations, digit-bearing identifiers and dates become slots.
//!    Adjacent whitespace-separated slots fold into one, so lists of values of varying length keep
//!    one shape. Every token is cut to [`MAX_TOKEN_BYTES`] and a template's text to
//!    [`MAX_TEMPLATE_BYTES`].
//! 2. **Chunks**: the whitespace-separated pieces of a record (a `key=value`, a `host:port`, a
//!    bracketed word) are its positions, as in Drain: two records of one event have the same
//!    number of chunks, while the tokens inside a variable chunk may differ in number (`10.0.0.1:80`
//!    against `db.local:5432`). A slot accepts any run of tokens inside its chunk except a run of
//!    punctuation alone; a constant accepts only itself.
//! 3. **Template match**: the record joins the most specific live template with its number of
//!    chunks that accepts it (most constants, then the oldest). Templates are indexed by their
//!    first fully constant chunk *at its position* (or, with none, by chunk count alone), and a
//!    record looks up every one of its chunks, so no position — the first included — decides
//!    alone which templates a record can reach. A memo keyed by the masked signature makes the
//!    common case one hash lookup.
//! 4. **Otherwise a new template** is created from the record, and the engine compares it with the
//!    templates of the same chunk count that differ from it in at most a few chunks
//!    ([`Config::max_differing`], [`Config::max_differing_percent`]), everything else equal. A set
//!    of differing chunks is judged variable — and the siblings merge into the oldest, with those
//!    chunks generalised — when at every one of them either a sibling already accepts all the
//!    others' values, or [`Config::distinct_values`] distinct values have been seen. Fewer
//!    alternatives stay distinct events because that is how enumerations look (HTTP verbs,
//!    start/stop, state names); free variables (user names, hosts, program names, components)
//!    quickly exceed it. Any chunk may turn out variable, the first one included. A generalised
//!    chunk keeps the tokens that all values share at its start and end (`uid=<*>`,
//!    `[<*>]`) and a slot for the rest. A merge must leave a constant word in the template (one
//!    of nothing but slots would swallow every record of its shape). Merges cascade, since a
//!    generalised template may now have siblings of its own, and a generalised template absorbs
//!    the older templates it now accepts whole.
//!
//! # Promises
//! * Deterministic: the same sequence of calls gives the same ids, templates and bytes.
//! * Ids are never reused; a merged id resolves to its survivor for as long as the survivor lives
//!   (at most [`MAX_ALIASES_PER_PATTERN`] aliases per survivor are remembered, the oldest go first).
//! * Order: the pattern a record gets depends only on the current state and the record's masked
//!   signature (its token sequence with values replaced by slots), so records with the same
//!   signature get the same pattern at any given moment. Across different arrival orders they
//!   also end up together (property-tested) unless templates overlap: a template created later
//!   that accepts the same signature with more constants wins for later records. The full
//!   partition is therefore not promised to be order-independent.
//! * State is bounded: at most `max_patterns` live patterns and at most `max_state_bytes` of
//!   serialized state (least recently assigned evicted first, in small batches, their aliases
//!   with them), bounded tokens, templates, samples and aliases.

mod lexer;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use lexer::{Class, Lexeme};
use serde::{Deserialize, Serialize};

pub use wire::DecodeError;

/// Live patterns kept by [`Engine::new`]; beyond it the least recently assigned is evicted.
pub const DEFAULT_MAX_PATTERNS: usize = 5_000;
/// Serialized state ([`Engine::to_bytes`]) kept by [`Engine::new`]: beyond it the least recently
/// assigned patterns are evicted.
pub const DEFAULT_MAX_STATE_BYTES: usize = 1 << 20;
/// The smallest state cap [`Engine::with_limits`] accepts: room for a few of the largest patterns.
pub const MIN_MAX_STATE_BYTES: usize = 64 << 10;
/// Sample issue ids kept per pattern (the first ones seen).
pub const MAX_SAMPLES: usize = 5;
/// Issue ids longer than this are not kept as samples (keeps state bounded).
pub const MAX_SAMPLE_ID_BYTES: usize = 256;
/// Merged ids remembered per surviving pattern.
pub const MAX_ALIASES_PER_PATTERN: usize = 64;
/// Bytes of one constant token of a template, at most (longer words and punctuation runs are cut).
pub const MAX_TOKEN_BYTES: usize = lexer::MAX_TOKEN_BYTES;
/// Bytes of constant text in one template, at most (the rest becomes a trailing `<*>`).
pub const MAX_TEMPLATE_BYTES: usize = lexer::MAX_TEMPLATE_BYTES;
/// Tokens in one template, at most.
pub const MAX_TOKENS: usize = lexer::MAX_TOKENS;

/// The clustering decision's parameters. [`Config::default`] is the one configuration used for
/// every source; it was chosen by leave-one-system-out evaluation (see BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// A set of differing chunks is variable once each of them has shown this many distinct values
    /// (all else equal), unless a template already accepts the others' values there.
    pub distinct_values: usize,
    /// Siblings differ in at most this many chunks ...
    pub max_differing: usize,
    /// ... and in at most this percentage of their chunks (rounded down: with 30, a message of
    /// three chunks never generalises one of them, as in Drain's similarity threshold).
    pub max_differing_percent: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { distinct_values: 5, max_differing: 3, max_differing_percent: 25 }
    }
}

impl Config {
    /// Sets one parameter by name (`distinct_values`, `max_differing`, `max_differing_percent`),
    /// for experiments and the benchmark's leave-one-system-out tuning.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value: usize = value.parse().map_err(|_| format!("{name}: not a non-negative integer: {value}"))?;
        match name {
            "distinct_values" => self.distinct_values = value.max(2),
            "max_differing" => self.max_differing = value,
            "max_differing_percent" => self.max_differing_percent = value.min(100),
            _ => return Err(format!("unknown parameter {name}")),
        }
        Ok(())
    }

    /// How many of `chunks` chunks siblings may differ in.
    fn allowed_differing(&self, chunks: usize) -> usize {
        (chunks * self.max_differing_percent / 100).min(self.max_differing)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatternId(pub u64);

impl fmt::Display for PatternId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
/// What a slot in a template stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SlotKind {
    Num,
    Ip,
    Hex,
    Uuid,
    Path,
    Url,
    Duration,
    /// Mixed kinds, digit-bearing identifiers, dates, or words found to vary.
    Any,
}

impl SlotKind {
    fn join(self, other: SlotKind) -> SlotKind {
        if self == other {
            self
        } else {
            SlotKind::Any
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            SlotKind::Num => "<NUM>",
            SlotKind::Ip => "<IP>",
            SlotKind::Hex => "<HEX>",
            SlotKind::Uuid => "<UUID>",
            SlotKind::Path => "<PATH>",
            SlotKind::Url => "<URL>",
            SlotKind::Duration => "<DURATION>",
            SlotKind::Any => "<*>",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    pub id: PatternId,
    /// Constant tokens and typed slots, e.g. `Received block <*> of size <NUM> from <IP>`.
    pub template: String,
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The first [`MAX_SAMPLES`] distinct issue ids assigned to the pattern.
    pub sample_issue_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub pattern_id: PatternId,
    /// The pattern did not exist before this call.
    pub is_new: bool,
    /// Previously returned ids that became aliases of `pattern_id` during this call; callers that
    /// store ids may rewrite them (they keep resolving either way).
    pub merged_from: Vec<PatternId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Token {
    Text(Box<str>),
    Slot(SlotKind),
}

impl Token {
    fn is_generalisable(&self) -> bool {
        match self {
            Token::Slot(_) => true,
            Token::Text(text) => text.chars().any(char::is_alphanumeric),
        }
    }

    /// Slot kinds do not take part in identity: a position that held a number and later an IP
    /// is still one variable.
    fn same_shape(&self, other: &Token) -> bool {
        match (self, other) {
            (Token::Slot(_), Token::Slot(_)) => true,
            (Token::Text(a), Token::Text(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct TemplateToken {
    token: Token,
    space_before: bool,
}

#[derive(Clone, Debug)]
struct Entry {
    pattern: Pattern,
    tokens: Vec<TemplateToken>,
    /// Number of constant tokens: the more, the more specific the template.
    constants: usize,
    /// What each token accepts, so that matching compares integers, not strings.
    keys: Vec<TokenKey>,
    /// The first token of each chunk, then `tokens.len()`.
    bounds: Vec<u32>,
    /// [`chunk_hash`] of each chunk: equal chunks have equal hashes.
    chunk_hashes: Vec<u64>,
    /// Whether each chunk may turn out variable (it holds a slot, a letter or a digit).
    variable_ok: Vec<bool>,
    /// Logical time (number of assignments so far) of the last assignment, for eviction.
    last_used: u64,
    /// Ids that resolve to this pattern, oldest first.
    aliases: Vec<u64>,
    /// An upper bound of the bytes this pattern takes in [`Engine::to_bytes`].
    wire_bytes: usize,
}

impl Entry {
    fn refresh_derived(&mut self) {
        self.constants = self.tokens.iter().filter(|t| matches!(t.token, Token::Text(_))).count();
        self.bounds.clear();
        self.keys.clear();
        for (i, t) in self.tokens.iter().enumerate() {
            let start = i == 0 || t.space_before || is_separator(&t.token) || is_separator(&self.tokens[i - 1].token);
            if start {
                self.bounds.push(i as u32);
            }
            self.keys.push(TokenKey::of(&t.token, start));
        }
        self.bounds.push(self.tokens.len() as u32);
        self.chunk_hashes.clear();
        self.variable_ok.clear();
        for w in self.bounds.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            self.chunk_hashes.push(chunk_hash(self.keys[a..b].iter().map(|k| k.hash())));
            self.variable_ok.push(self.tokens[a..b].iter().any(|t| t.token.is_generalisable()));
        }
        self.pattern.template = render(&self.tokens);
        self.wire_bytes = self.wire_bound();
    }

    fn chunk(&self, c: usize) -> &[TemplateToken] {
        &self.tokens[self.bounds[c] as usize..self.bounds[c + 1] as usize]
    }

    fn chunk_count(&self) -> usize {
        self.chunk_hashes.len()
    }

    /// Postcard writes a `u64` in at most 10 bytes and a length in at most 5 (for these sizes, 3).
    fn wire_bound(&self) -> usize {
        const NUMBER: usize = 10;
        const LENGTH: usize = 3;
        let tokens: usize = self
            .tokens
            .iter()
            .map(|t| match &t.token {
                Token::Text(text) => 1 + LENGTH + text.len(),
                Token::Slot(_) => 2,
            })
            .sum();
        let samples: usize = self.pattern.sample_issue_ids.iter().map(|s| LENGTH + s.len()).sum();
        // id, count, first and last seen, last used; three lengths; the aliases.
        5 * NUMBER + 3 * LENGTH + tokens + samples + NUMBER * self.aliases.len()
    }
}

/// The body separator is a chunk of its own.
fn is_separator(token: &Token) -> bool {
    matches!(token, Token::Text(text) if &**text == lexer::BODY_SEPARATOR)
}

fn render(tokens: &[TemplateToken]) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && t.space_before {
            out.push(' ');
        }
        match &t.token {
            Token::Text(text) => out.push_str(text),
            Token::Slot(kind) => out.push_str(kind.placeholder()),
        }
    }
    out
}

/// Keys are already well-mixed 64-bit hashes; hashing them again would only cost time.
#[derive(Default, Clone, Copy)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = fmix(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PassThroughHasher>>;

/// Pattern ids are small consecutive integers: a multiply spreads them over the bits a hash
/// table uses (the low ones for the slot, the high ones for the tag).
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Live patterns by id: a hash map for the lookups made on every call (a `BTreeMap` search was
/// the costliest part of a memo hit), and the ids in order for everything that lists patterns
/// by ascending id.
#[derive(Clone, Debug, Default)]
struct PatternMap {
    by_id: HashMap<u64, Entry, BuildHasherDefault<IdHasher>>,
    ids: BTreeSet<u64>,
}

impl PatternMap {
    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn contains_key(&self, id: &u64) -> bool {
        self.by_id.contains_key(id)
    }

    fn get(&self, id: &u64) -> Option<&Entry> {
        self.by_id.get(id)
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Entry> {
        self.by_id.get_mut(id)
    }

    fn insert(&mut self, id: u64, entry: Entry) -> Option<Entry> {
        self.ids.insert(id);
        self.by_id.insert(id, entry)
    }

    fn remove(&mut self, id: &u64) -> Option<Entry> {
        self.ids.remove(id);
        self.by_id.remove(id)
    }

    /// In ascending id order.
    fn keys(&self) -> impl Iterator<Item = &u64> {
        self.ids.iter()
    }

    /// In ascending id order.
    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.ids.iter().map(|id| &self.by_id[id])
    }

    /// In no particular order.
    fn unordered_values(&self) -> impl Iterator<Item = &Entry> {
        self.by_id.values()
    }
}

impl std::ops::Index<&u64> for PatternMap {
    type Output = Entry;

    fn index(&self, id: &u64) -> &Entry {
        &self.by_id[id]
    }
}

const SLOT_HASH: u64 = 0x9e37_79b9_7f4a_7c15;

const fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

const fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95)
}

fn hash_text(text: &str) -> u64 {
    let bytes = text.as_bytes();
    if let [byte] = bytes {
        return SINGLE_BYTE_HASHES[*byte as usize];
    }
    hash_bytes(bytes)
}

/// [`hash_text`] of every one-byte text (most punctuation tokens), computed at compile time.
const SINGLE_BYTE_HASHES: [u64; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        // What `hash_bytes` computes for a single byte: the length, then the zero-padded tail.
        table[byte] = fmix(mix(1, byte as u64));
        byte += 1;
    }
    table
};

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = mix(h, u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")));
    }
    fmix(mix(h, short_le_word(chunks.remainder())))
}

/// Fewer than 8 bytes as a little-endian word padded with zeros, read as at most three loads
/// instead of a copy into a padded buffer (that copy was a `memcpy` call per token). Where the
/// loads overlap they read the same bytes into the same positions, so OR-ing them is exact.
fn short_le_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!(len < 8);
    match len {
        0 => 0,
        1..=3 => {
            let (first, middle, last) = (bytes[0], bytes[len / 2], bytes[len - 1]);
            u64::from(first) | u64::from(middle) << (8 * (len / 2)) | u64::from(last) << (8 * (len - 1))
        }
        _ => {
            let head = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
            let tail = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
            u64::from(head) | u64::from(tail) << (8 * (len - 4))
        }
    }
}

/// Mixed into the hash of a token that starts a chunk, so that equal hashes mean equal chunking.
const START_SALT: u64 = 0x2545_f491_4f6c_dd1d;

const fn salted(hash: u64, start: bool) -> u64 {
    if start {
        hash ^ START_SALT
    } else {
        hash
    }
}

fn chunk_hash(hashes: impl Iterator<Item = u64>) -> u64 {
    fmix(hashes.fold(0x243f_6a88_85a3_08d3, mix))
}

/// A template token as matching sees it: a constant by the hash of its text (salted when it
/// starts a chunk), a slot by whether it starts a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKey {
    Constant(u64),
    Slot(bool),
}

impl TokenKey {
    fn of(token: &Token, start: bool) -> TokenKey {
        match token {
            Token::Text(text) => TokenKey::Constant(salted(hash_text(text), start)),
            Token::Slot(_) => TokenKey::Slot(start),
        }
    }

    /// What a record's token that this key equals hashes to (see [`Record::hashes`]).
    fn hash(self) -> u64 {
        match self {
            TokenKey::Constant(hash) => hash,
            TokenKey::Slot(start) => salted(SLOT_HASH, start),
        }
    }
}

/// The record being assigned, in the forms matching needs. Kept between calls to reuse buffers.
#[derive(Clone, Debug, Default)]
struct Record {
    /// Per token: the hash of its text (or [`SLOT_HASH`] for a value), salted when it starts a
    /// chunk — the same as [`TokenKey::hash`] of a template token equal to it.
    hashes: Vec<u64>,
    /// Per token: [`PUNCT`], [`WORD`] or [`VALUE`], with [`START`] when it starts a chunk.
    kinds: Vec<u8>,
    /// The first token of each chunk, then the token count.
    bounds: Vec<u32>,
    chunk_hashes: Vec<u64>,
}

const PUNCT: u8 = 0;
const WORD: u8 = 1;
const VALUE: u8 = 2;
const KIND: u8 = 3;
const START: u8 = 4;

impl Record {
    fn fill(&mut self, lexemes: &[Lexeme<'_>]) {
        self.hashes.clear();
        self.kinds.clear();
        self.bounds.clear();
        self.chunk_hashes.clear();
        let mut previous_separator = false;
        for (i, l) in lexemes.iter().enumerate() {
            let separator = l.class == Class::Punct && l.text == lexer::BODY_SEPARATOR;
            let start = i == 0 || l.space_before || separator || previous_separator;
            previous_separator = separator;
            let (hash, kind) = match l.class {
                Class::Slot(_) => (SLOT_HASH, VALUE),
                Class::Word => (hash_text(l.text), WORD),
                Class::Punct => (hash_text(l.text), PUNCT),
            };
            if start {
                self.bounds.push(i as u32);
            }
            self.hashes.push(salted(hash, start));
            self.kinds.push(kind | if start { START } else { 0 });
        }
        self.bounds.push(lexemes.len() as u32);
        for w in self.bounds.windows(2) {
            self.chunk_hashes.push(chunk_hash(self.hashes[w[0] as usize..w[1] as usize].iter().copied()));
        }
    }

    fn signature(&self) -> u64 {
        fmix(self.hashes.iter().fold(self.hashes.len() as u64, |h, &x| mix(h, x)))
    }

    fn chunk_count(&self) -> usize {
        self.chunk_hashes.len()
    }
}

/// Whether a template (`keys`, chunk `bounds`) accepts the record.
fn accepts(keys: &[TokenKey], bounds: &[u32], record: &Record) -> bool {
    if keys.len() == record.hashes.len() && accepts_aligned(keys, &record.hashes, &record.kinds) {
        return true;
    }
    if bounds.len() != record.bounds.len() || keys.iter().all(|k| matches!(k, TokenKey::Constant(_))) {
        return false;
    }
    bounds.windows(2).zip(record.bounds.windows(2)).all(|(t, r)| {
        let keys = &keys[t[0] as usize..t[1] as usize];
        let (from, to) = (r[0] as usize, r[1] as usize);
        let (hashes, kinds) = (&record.hashes[from..to], &record.kinds[from..to]);
        (keys.len() == hashes.len() && accepts_aligned(keys, hashes, kinds)) || accepts_chunk(keys, hashes, kinds)
    })
}

/// Token by token: a constant accepts only itself, a slot one word or value at the same chunking.
#[inline]
fn accepts_aligned(keys: &[TokenKey], hashes: &[u64], kinds: &[u8]) -> bool {
    keys.iter().zip(hashes).zip(kinds).all(|((key, &hash), &kind)| match *key {
        TokenKey::Constant(constant) => constant == hash && kind & KIND != VALUE,
        TokenKey::Slot(start) => kind & KIND != PUNCT && (kind & START != 0) == start,
    })
}

/// One chunk, where a slot may take any run of the record's tokens, empty or holding at least
/// one word or value (never punctuation alone). Dynamic programming over (template prefix,
/// record prefix); the first token of each side carries the chunk-start salt, removed here.
fn accepts_chunk(keys: &[TokenKey], hashes: &[u64], kinds: &[u8]) -> bool {
    let n = hashes.len();
    if n > 64 {
        return false;
    }
    // Bit j of a row: the template prefix matches the first j record tokens.
    let mut row: u128 = 1;
    // substantive[j]: tokens before j that are not punctuation.
    let mut substantive = [0u8; 65];
    for j in 0..n {
        substantive[j + 1] = substantive[j] + u8::from(kinds[j] & KIND != PUNCT);
    }
    let unsalted = |hash: u64, at: usize| if at == 0 { hash ^ START_SALT } else { hash };
    for (i, key) in keys.iter().enumerate() {
        let mut next: u128 = 0;
        match *key {
            TokenKey::Constant(constant) => {
                let constant = unsalted(constant, i);
                for j in 0..n {
                    if row >> j & 1 == 1 && kinds[j] & KIND != VALUE && unsalted(hashes[j], j) == constant {
                        next |= 1 << (j + 1);
                    }
                }
            }
            TokenKey::Slot(_) => {
                // Reachable: the same prefix (empty run), or an earlier one with fewer
                // substantive tokens before it (a run holding at least one).
                let mut least: Option<u8> = None;
                for (j, &before) in substantive[..=n].iter().enumerate() {
                    let matched = row >> j & 1 == 1;
                    if matched || least.is_some_and(|l| l < before) {
                        next |= 1 << j;
                    }
                    if matched {
                        least = Some(least.map_or(before, |l| l.min(before)));
                    }
                }
            }
        }
        row = next;
        if row == 0 {
            return false;
        }
    }
    row >> n & 1 == 1
}

/// What matching needs of a live template, copied into the index so that scanning candidates
/// touches neither the pattern map nor the template's strings.
#[derive(Clone, Debug)]
struct Candidate {
    id: u64,
    constants: usize,
    keys: Box<[TokenKey]>,
    bounds: Box<[u32]>,
}

impl Candidate {
    /// Candidates are kept most specific first (most constants, then the oldest): the order in
    /// which a record picks among the templates that accept it, so the first that accepts wins.
    fn precedes(&self, constants: usize, id: u64) -> bool {
        (self.constants, std::cmp::Reverse(self.id)) > (constants, std::cmp::Reverse(id))
    }
}

/// The list a template with a fully constant chunk is found in: its chunk count, and the
/// position and hash of its first such chunk (preferring one with a word over punctuation).
fn anchor_key(chunks: usize, position: usize, hash: u64) -> u64 {
    fmix(mix(mix(chunks as u64, position as u64 + 1), hash))
}

/// The list of templates of `chunks` chunks none of which is fully constant.
fn unanchored_key(chunks: usize) -> u64 {
    fmix(mix(chunks as u64, 0))
}

fn template_anchor(entry: &Entry) -> u64 {
    let constant = |c: &usize| {
        let (a, b) = (entry.bounds[*c] as usize, entry.bounds[*c + 1] as usize);
        entry.keys[a..b].iter().all(|k| matches!(k, TokenKey::Constant(_)))
    };
    let chunks = entry.chunk_count();
    let chosen = (0..chunks).filter(constant).find(|&c| entry.variable_ok[c]).or_else(|| (0..chunks).find(constant));
    match chosen {
        Some(c) => anchor_key(chunks, c, entry.chunk_hashes[c]),
        None => unanchored_key(chunks),
    }
}

/// Derived lookup structures; rebuilt from the patterns on decode, never serialized.
#[derive(Clone, Default, Debug)]
struct Index {
    /// Bumped whenever a template is created, changed or removed: invalidates `memo`.
    generation: u64,
    /// Bumped whenever anything that `to_bytes` writes changes other than counters, samples and
    /// recency: a template is created, generalised, widened, merged or evicted.
    revision: u64,
    /// Live templates by [`template_anchor`], each list in [`Candidate::precedes`] order.
    candidates: FastMap<u64, Vec<Candidate>>,
    /// Live template ids by chunk count, ascending.
    by_chunks: FastMap<u64, Vec<u64>>,
    memo: FastMap<u64, (u64, u64)>,
    /// The record being assigned, kept between calls to save allocations.
    record: Record,
    /// The lexeme buffer, empty between calls; see [`recycle`].
    scratch_lexemes: Vec<Lexeme<'static>>,
}

fn count_key(chunks: usize) -> u64 {
    fmix(chunks as u64 ^ 0x5851_f42d_4c95_7f2d)
}

/// Hands an emptied buffer of lexemes to a caller with another lifetime, keeping its allocation:
/// collecting an empty `into_iter` of a same-layout type reuses the buffer in place (and if it
/// ever did not, the only cost would be an allocation).
fn recycle<'from, 'to>(mut lexemes: Vec<Lexeme<'from>>) -> Vec<Lexeme<'to>> {
    lexemes.clear();
    lexemes.into_iter().map(|_| unreachable!("the buffer is empty")).collect()
}

/// Whether template `general` accepts everything template `specific` does (same chunk count).
fn covers(general: &Entry, specific: &Entry) -> bool {
    general.chunk_hashes.iter().zip(&specific.chunk_hashes).enumerate().all(|(c, (a, b))| {
        a == b || {
            let (g, s) = (general.chunk(c), specific.chunk(c));
            g.iter().any(|t| matches!(t.token, Token::Slot(_)))
                && generalise_pair(g, s).is_some_and(|joined| {
                    joined.len() == g.len() && joined.iter().zip(g).all(|(x, y)| x.token.same_shape(&y.token))
                })
        }
    })
}

/// The generalisation of chunks (each a template's tokens for one chunk): tokens equal in all
/// stay, the rest become slots. `None` when some chunk would have to give up punctuation alone.
fn generalise_chunks(chunks: &[&[TemplateToken]]) -> Option<Vec<TemplateToken>> {
    let mut general = chunks[0].to_vec();
    for chunk in &chunks[1..] {
        general = generalise_pair(&general, chunk)?;
    }
    Some(general)
}

fn generalise_pair(a: &[TemplateToken], b: &[TemplateToken]) -> Option<Vec<TemplateToken>> {
    let joined = |x: &TemplateToken, y: &TemplateToken| -> TemplateToken {
        let token = match (&x.token, &y.token) {
            (Token::Slot(p), Token::Slot(q)) => Token::Slot(p.join(*q)),
            (Token::Text(p), Token::Text(q)) if p == q => x.token.clone(),
            (Token::Slot(_), _) | (_, Token::Slot(_)) | (Token::Text(_), Token::Text(_)) => Token::Slot(SlotKind::Any),
        };
        TemplateToken { token, space_before: x.space_before }
    };
    let aligned = a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.token.same_shape(&y.token) || (x.token.is_generalisable() && y.token.is_generalisable()));
    let mut out: Vec<TemplateToken> = if aligned {
        a.iter().zip(b).map(|(x, y)| joined(x, y)).collect()
    } else {
        let n = a.len().min(b.len());
        let prefix = a.iter().zip(b).take_while(|(x, y)| x.token.same_shape(&y.token)).count().min(n);
        let suffix = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take(n - prefix)
            .take_while(|(x, y)| x.token.same_shape(&y.token))
            .count();
        let (middle_a, middle_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
        let punctuation_only = |m: &[TemplateToken]| !m.is_empty() && m.iter().all(|t| !t.token.is_generalisable());
        if punctuation_only(middle_a) || punctuation_only(middle_b) {
            return None;
        }
        let mut out: Vec<TemplateToken> = a[..prefix].iter().zip(b).map(|(x, y)| joined(x, y)).collect();
        let space_before = if prefix == 0 { a[0].space_before } else { false };
        out.push(TemplateToken { token: Token::Slot(SlotKind::Any), space_before });
        out.extend(a[a.len() - suffix..].iter().zip(&b[b.len() - suffix..]).map(|(x, y)| joined(x, y)));
        out
    };
    // Adjacent slots inside a chunk accept what one slot accepts: keep one.
    let mut i = 1;
    while i < out.len() {
        if let (Token::Slot(p), Token::Slot(q)) = (&out[i - 1].token, &out[i].token) {
            let kind = p.join(*q);
            out[i - 1].token = Token::Slot(if p == q { kind } else { SlotKind::Any });
            out.remove(i);
        } else {
            i += 1;
        }
    }
    Some(out)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "wire::EngineWire", try_from = "wire::EngineWire")]
pub struct Engine {
    max_patterns: usize,
    max_state_bytes: usize,
    config: Config,
    next_id: u64,
    clock: u64,
    patterns: PatternMap,
    aliases: BTreeMap<u64, u64>,
    /// Sum of the live patterns' [`Entry::wire_bytes`].
    pattern_bytes: usize,
    index: Index,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

/// An upper bound of [`Engine::to_bytes`] beyond the patterns: magic, version, four numbers, a length.
const WIRE_HEADER_BYTES: usize = 5 + 4 * 10 + 5;

impl Engine {
    pub fn new() -> Self {
        Engine::with_limits(DEFAULT_MAX_PATTERNS, DEFAULT_MAX_STATE_BYTES)
    }

    /// At most `max_patterns` (at least 1) live patterns; the least recently assigned is evicted.
    pub fn with_capacity_limit(max_patterns: usize) -> Self {
        Engine::with_limits(max_patterns, DEFAULT_MAX_STATE_BYTES)
    }

    /// At most `max_patterns` (at least 1) live patterns and at most `max_state_bytes` (at least
    /// [`MIN_MAX_STATE_BYTES`]) of serialized state; the least recently assigned are evicted.
    pub fn with_limits(max_patterns: usize, max_state_bytes: usize) -> Self {
        Engine {
            max_patterns: max_patterns.max(1),
            max_state_bytes: max_state_bytes.max(MIN_MAX_STATE_BYTES),
            config: Config::default(),
            next_id: 1,
            clock: 0,
            patterns: PatternMap::default(),
            aliases: BTreeMap::new(),
            pattern_bytes: 0,
            index: Index::default(),
        }
    }

    /// The same engine deciding with `config` (not serialized: [`Engine::from_bytes`] gives the
    /// default configuration).
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    pub fn config(&self) -> Config {
        self.config
    }

    pub fn max_patterns(&self) -> usize {
        self.max_patterns
    }

    pub fn max_state_bytes(&self) -> usize {
        self.max_state_bytes
    }

    /// Number of live patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Number of merged ids that still resolve.
    pub fn alias_count(&self) -> usize {
        self.aliases.len()
    }

    /// An upper bound of `to_bytes().len()`, kept at most [`Engine::max_state_bytes`].
    pub fn state_bytes_bound(&self) -> usize {
        WIRE_HEADER_BYTES + self.pattern_bytes
    }

    /// Changes whenever a call changed the templates (created, generalised, widened, merged or
    /// evicted one), as opposed to only counting a hit. A caller that persists the state can
    /// save it when this moves and batch the saving of mere hits. Not serialized: compare
    /// values taken from the same instance only.
    pub fn revision(&self) -> u64 {
        self.index.revision
    }

    pub fn assign(&mut self, title: &str, body: Option<&str>, issue_id: Option<&str>, at_unix_ms: i64) -> Assignment {
        self.clock += 1;
        let mut lexemes = recycle(std::mem::take(&mut self.index.scratch_lexemes));
        lexer::lex_record(title, body, &mut lexemes);
        let mut record = std::mem::take(&mut self.index.record);
        record.fill(&lexemes);
        let assignment = match self.find_template(&record) {
            Some(id) => Assignment { pattern_id: PatternId(id), is_new: false, merged_from: Vec::new() },
            None => {
                let newborn = self.create(&lexemes, at_unix_ms);
                let (survivor, absorbed) = self.settle(newborn);
                if survivor != newborn {
                    // The new id never reached a caller, so there is nothing to keep resolving.
                    self.forget_alias(newborn);
                }
                Assignment {
                    pattern_id: PatternId(survivor),
                    is_new: survivor == newborn,
                    merged_from: absorbed.into_iter().filter(|&id| id != newborn).map(PatternId).collect(),
                }
            }
        };
        self.record_hit(assignment.pattern_id.0, &lexemes, &record, issue_id, at_unix_ms);
        self.evict_over_capacity();
        self.index.record = record;
        self.index.scratch_lexemes = recycle(lexemes);
        assignment
    }

    pub fn resolve(&self, id: PatternId) -> Option<PatternId> {
        if self.patterns.contains_key(&id.0) {
            return Some(id);
        }
        self.aliases.get(&id.0).map(|&s| PatternId(s))
    }

    pub fn pattern(&self, id: PatternId) -> Option<&Pattern> {
        self.resolve(id).and_then(|id| self.patterns.get(&id.0)).map(|e| &e.pattern)
    }

    /// Live patterns in ascending id order.
    pub fn patterns(&self) -> impl Iterator<Item = &Pattern> {
        self.patterns.values().map(|e| &e.pattern)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        wire::decode(bytes)
    }

    fn find_template(&mut self, record: &Record) -> Option<u64> {
        let sig = record.signature();
        if let Some(&(generation, id)) = self.index.memo.get(&sig) {
            if generation == self.index.generation {
                if let Some(entry) = self.patterns.get(&id) {
                    if accepts(&entry.keys, &entry.bounds, record) {
                        return Some(id);
                    }
                }
            }
        }
        // The most specific template that accepts the record (most constants, then the oldest),
        // among those anchored at any of the record's chunks and those with no constant chunk.
        let chunks = record.chunk_count();
        let mut best: Option<(usize, u64)> = None;
        let lists = std::iter::once(unanchored_key(chunks))
            .chain(record.chunk_hashes.iter().enumerate().map(|(c, &hash)| anchor_key(chunks, c, hash)));
        for list in lists {
            for candidate in self.index.candidates.get(&list).map(Vec::as_slice).unwrap_or_default() {
                if best.is_some_and(|(constants, id)| !candidate.precedes(constants, id)) {
                    break;
                }
                if accepts(&candidate.keys, &candidate.bounds, record) {
                    best = Some((candidate.constants, candidate.id));
                    break;
                }
            }
        }
        let (_, id) = best?;
        if self.index.memo.len() >= self.memo_capacity() {
            self.index.memo.clear();
        }
        self.index.memo.insert(sig, (self.index.generation, id));
        Some(id)
    }

    fn memo_capacity(&self) -> usize {
        (self.max_patterns * 8).clamp(1 << 12, 1 << 18)
    }

    fn create(&mut self, lexemes: &[Lexeme<'_>], at_unix_ms: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let tokens: Vec<TemplateToken> = lexemes
            .iter()
            .map(|l| TemplateToken {
                token: match l.class {
                    Class::Slot(kind) => Token::Slot(kind),
                    Class::Word | Class::Punct => Token::Text(l.text.into()),
                },
                space_before: l.space_before,
            })
            .collect();
        let mut entry = Entry {
            pattern: Pattern {
                id: PatternId(id),
                template: String::new(),
                count: 0,
                first_seen_ms: at_unix_ms,
                last_seen_ms: at_unix_ms,
                sample_issue_ids: Vec::new(),
            },
            tokens,
            constants: 0,
            keys: Vec::new(),
            bounds: Vec::new(),
            chunk_hashes: Vec::new(),
            variable_ok: Vec::new(),
            last_used: self.clock,
            aliases: Vec::new(),
            wire_bytes: 0,
        };
        entry.refresh_derived();
        self.pattern_bytes += entry.wire_bytes;
        self.patterns.insert(id, entry);
        self.index_insert(id);
        id
    }

    /// Merges templates that differ from `start` only in chunks judged variable, repeatedly, and
    /// returns the final survivor with every id absorbed on the way.
    fn settle(&mut self, start: u64) -> (u64, Vec<u64>) {
        let mut current = start;
        let mut absorbed = Vec::new();
        while let Some((holes, siblings)) = self.variable_chunks(current) {
            let survivor = *siblings.iter().min().expect("at least two siblings");
            let general: Vec<Vec<TemplateToken>> = holes
                .iter()
                .map(|&c| {
                    let chunks: Vec<&[TemplateToken]> = siblings.iter().map(|id| self.patterns[id].chunk(c)).collect();
                    generalise_chunks(&chunks).expect("checked by variable_chunks")
                })
                .collect();
            for &victim in siblings.iter().filter(|&&id| id != survivor) {
                self.absorb(survivor, victim);
                absorbed.push(victim);
            }
            self.generalise(survivor, &holes, general);
            current = self.absorb_covered(survivor, &mut absorbed);
        }
        (current, absorbed)
    }

    /// Merges into `general` the templates that it now accepts whole (they may differ from it in
    /// more chunks than siblings do: it grew more general in steps); the oldest of them survives,
    /// with `general`'s tokens. Returns the survivor.
    fn absorb_covered(&mut self, general: u64, absorbed: &mut Vec<u64>) -> u64 {
        let entry = &self.patterns[&general];
        let covered: Vec<u64> = self
            .index
            .by_chunks
            .get(&count_key(entry.chunk_count()))
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&other| other != general && covers(entry, &self.patterns[&other]))
            .collect();
        let Some(&oldest) = covered.first().filter(|&&oldest| oldest < general) else {
            for victim in covered {
                self.absorb(general, victim);
                absorbed.push(victim);
            }
            return general;
        };
        let tokens = self.patterns[&general].tokens.clone();
        for victim in covered.into_iter().chain([general]).filter(|&id| id != oldest) {
            self.absorb(oldest, victim);
            absorbed.push(victim);
        }
        self.index_remove(oldest);
        let entry = self.patterns.get_mut(&oldest).expect("live survivor");
        entry.tokens = tokens;
        let before = entry.wire_bytes;
        entry.refresh_derived();
        self.pattern_bytes = self.pattern_bytes - before + entry.wire_bytes;
        self.index_insert(oldest);
        oldest
    }

    /// The chunks at which template `id` and the templates equal to it everywhere else (its
    /// siblings, `id` included) show variables, with those siblings: the smallest such set of
    /// chunks, then the one with most siblings, then the first in chunk order.
    fn variable_chunks(&self, id: u64) -> Option<(Vec<usize>, Vec<u64>)> {
        let entry = &self.patterns[&id];
        let chunks = entry.chunk_count();
        let allowed = self.config.allowed_differing(chunks);
        if allowed == 0 {
            return None;
        }
        let mut differing: Vec<(u64, Vec<usize>)> = Vec::new();
        for &other in self.index.by_chunks.get(&count_key(chunks)).map(Vec::as_slice).unwrap_or_default() {
            if other == id {
                continue;
            }
            let o = &self.patterns[&other];
            let mut holes = Vec::new();
            let fits = entry.chunk_hashes.iter().zip(&o.chunk_hashes).enumerate().all(|(c, (a, b))| {
                if a == b {
                    return true;
                }
                holes.push(c);
                holes.len() <= allowed && entry.variable_ok[c] && o.variable_ok[c]
            });
            if fits {
                differing.push((other, holes));
            }
        }
        if differing.is_empty() {
            return None;
        }
        let mut hole_sets: Vec<&Vec<usize>> = differing.iter().map(|(_, holes)| holes).collect();
        hole_sets.sort();
        hole_sets.dedup();
        let mut best: Option<(Vec<usize>, Vec<u64>)> = None;
        for holes in hole_sets {
            if best.as_ref().is_some_and(|(b, _)| b.len() < holes.len()) {
                continue;
            }
            let mut siblings: Vec<u64> = differing
                .iter()
                .filter(|(_, h)| h.iter().all(|c| holes.contains(c)))
                .map(|&(other, _)| other)
                .chain([id])
                .collect();
            if siblings.len() < 2
                || best.as_ref().is_some_and(|(b, s)| b.len() == holes.len() && s.len() >= siblings.len())
            {
                continue;
            }
            if holes.iter().all(|&c| self.is_variable(&siblings, c)) && self.keeps_a_word(&siblings, holes) {
                siblings.sort_unstable();
                best = Some((holes.clone(), siblings));
            }
        }
        best
    }

    /// Whether the siblings' chunk `c` is a variable: one of them already accepts all the others'
    /// values there, or it has taken [`Config::distinct_values`] distinct values.
    fn is_variable(&self, siblings: &[u64], c: usize) -> bool {
        let chunks: Vec<&[TemplateToken]> = siblings.iter().map(|id| self.patterns[id].chunk(c)).collect();
        let Some(general) = generalise_chunks(&chunks) else { return false };
        let general_hash = {
            let bounds_start = true;
            chunk_hash(general.iter().enumerate().map(|(i, t)| TokenKey::of(&t.token, i == 0 && bounds_start).hash()))
        };
        let mut distinct: Vec<u64> = siblings.iter().map(|id| self.patterns[id].chunk_hashes[c]).collect();
        if distinct.contains(&general_hash) {
            return true;
        }
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len() >= self.config.distinct_values
    }

    /// Whether the siblings generalised at `holes` would keep a constant word: a template of
    /// nothing but slots and punctuation says nothing about its event, and would swallow every
    /// record of its shape.
    fn keeps_a_word(&self, siblings: &[u64], holes: &[usize]) -> bool {
        let entry = &self.patterns[&siblings[0]];
        let word = |t: &TemplateToken| matches!(&t.token, Token::Text(_)) && t.token.is_generalisable();
        (0..entry.chunk_count()).filter(|c| !holes.contains(c)).any(|c| entry.chunk(c).iter().any(word))
            || holes.iter().any(|&c| {
                let chunks: Vec<&[TemplateToken]> = siblings.iter().map(|id| self.patterns[id].chunk(c)).collect();
                generalise_chunks(&chunks).is_some_and(|g| g.iter().any(word))
            })
    }

    /// Replaces chunks `holes` of template `id` with `general` (one per hole).
    fn generalise(&mut self, id: u64, holes: &[usize], general: Vec<Vec<TemplateToken>>) {
        self.index_remove(id);
        let entry = self.patterns.get_mut(&id).expect("live survivor");
        let mut general = general.into_iter();
        let mut tokens = Vec::with_capacity(entry.tokens.len());
        for c in 0..entry.chunk_count() {
            if holes.contains(&c) {
                tokens.extend(general.next().expect("one per hole"));
            } else {
                tokens.extend_from_slice(entry.chunk(c));
            }
        }
        entry.tokens = tokens;
        let before = entry.wire_bytes;
        entry.refresh_derived();
        self.pattern_bytes = self.pattern_bytes - before + entry.wire_bytes;
        self.index_insert(id);
    }

    /// Moves `victim`'s history into `survivor` and turns `victim` into an alias of it.
    fn absorb(&mut self, survivor: u64, victim: u64) {
        self.index_remove(victim);
        let gone = self.patterns.remove(&victim).expect("live victim");
        self.pattern_bytes -= gone.wire_bytes;
        let entry = self.patterns.get_mut(&survivor).expect("live survivor");
        let before = entry.wire_bytes;
        let p = &mut entry.pattern;
        p.count += gone.pattern.count;
        p.first_seen_ms = p.first_seen_ms.min(gone.pattern.first_seen_ms);
        p.last_seen_ms = p.last_seen_ms.max(gone.pattern.last_seen_ms);
        for sample in gone.pattern.sample_issue_ids {
            if p.sample_issue_ids.len() < MAX_SAMPLES && !p.sample_issue_ids.contains(&sample) {
                p.sample_issue_ids.push(sample);
            }
        }
        if entry.tokens.len() == gone.tokens.len() {
            for (mine, theirs) in entry.tokens.iter_mut().zip(&gone.tokens) {
                if let (Token::Slot(a), Token::Slot(b)) = (&mut mine.token, &theirs.token) {
                    *a = a.join(*b);
                }
            }
        }
        entry.last_used = entry.last_used.max(gone.last_used);
        for alias in gone.aliases.iter().copied().chain([victim]) {
            self.aliases.insert(alias, survivor);
            entry.aliases.push(alias);
        }
        entry.aliases.sort_unstable();
        while entry.aliases.len() > MAX_ALIASES_PER_PATTERN {
            let oldest = entry.aliases.remove(0);
            self.aliases.remove(&oldest);
        }
        entry.refresh_derived();
        self.pattern_bytes = self.pattern_bytes - before + entry.wire_bytes;
    }

    fn forget_alias(&mut self, id: u64) {
        if let Some(survivor) = self.aliases.remove(&id) {
            if let Some(entry) = self.patterns.get_mut(&survivor) {
                entry.aliases.retain(|&a| a != id);
                let before = entry.wire_bytes;
                entry.wire_bytes = entry.wire_bound();
                self.pattern_bytes = self.pattern_bytes - before + entry.wire_bytes;
            }
        }
    }

    fn record_hit(
        &mut self,
        id: u64,
        lexemes: &[Lexeme<'_>],
        record: &Record,
        issue_id: Option<&str>,
        at_unix_ms: i64,
    ) {
        let entry = self.patterns.get_mut(&id).expect("assigned pattern is live");
        let p = &mut entry.pattern;
        p.count += 1;
        p.first_seen_ms = p.first_seen_ms.min(at_unix_ms);
        p.last_seen_ms = p.last_seen_ms.max(at_unix_ms);
        let mut resized = false;
        if let Some(issue) = issue_id {
            if p.sample_issue_ids.len() < MAX_SAMPLES
                && issue.len() <= MAX_SAMPLE_ID_BYTES
                && !p.sample_issue_ids.iter().any(|s| s == issue)
            {
                p.sample_issue_ids.push(issue.to_owned());
                resized = true;
            }
        }
        // Slot kinds follow what they have seen: token by token where the chunk lines up, and
        // `<*>` where a slot took a run of tokens. A survivor of a merge can have another chunk
        // count than the record (generalising a chunk can split it); the merge already joined
        // the kinds of the template made from this record, so there is nothing to line up.
        let mut widened = false;
        let aligned = entry.tokens.len() == lexemes.len();
        let chunks = if entry.chunk_count() == record.chunk_count() { entry.chunk_count() } else { 0 };
        for c in 0..chunks {
            let (a, b) = (entry.bounds[c] as usize, entry.bounds[c + 1] as usize);
            let (ra, rb) = (record.bounds[c] as usize, record.bounds[c + 1] as usize);
            let lined_up = aligned || b - a == rb - ra;
            for (i, t) in entry.tokens[a..b].iter_mut().enumerate() {
                if let Token::Slot(kind) = &mut t.token {
                    let seen = match lexemes.get(ra + i).map(|l| l.class) {
                        Some(Class::Slot(k)) if lined_up => k,
                        _ => SlotKind::Any,
                    };
                    if kind.join(seen) != *kind {
                        *kind = SlotKind::Any;
                        widened = true;
                    }
                }
            }
        }
        entry.last_used = self.clock;
        if widened {
            entry.pattern.template = render(&entry.tokens);
            self.index.revision += 1;
        }
        if resized || widened {
            let before = entry.wire_bytes;
            entry.wire_bytes = entry.wire_bound();
            self.pattern_bytes = self.pattern_bytes - before + entry.wire_bytes;
        }
    }

    /// Evicts the least recently assigned patterns while there are more than `max_patterns` or
    /// the state could exceed `max_state_bytes`. It frees a little more than the overflow (1/32
    /// of the cap) so that the scan over all patterns is paid once per many creations rather
    /// than on every one; the pattern just assigned is the most recent and always stays.
    fn evict_over_capacity(&mut self) {
        let over_count = self.patterns.len() > self.max_patterns;
        let over_bytes = self.state_bytes_bound() > self.max_state_bytes;
        if !over_count && !over_bytes {
            return;
        }
        let keep = self.max_patterns - self.max_patterns / 32;
        let byte_target = self.max_state_bytes - self.max_state_bytes / 32;
        // Any order will do: the (last_used, id) pairs are distinct, so sorting them gives one order.
        let mut by_age: Vec<(u64, u64)> =
            self.patterns.unordered_values().map(|e| (e.last_used, e.pattern.id.0)).collect();
        by_age.sort_unstable();
        let newest = by_age.pop();
        for (_, coldest) in by_age {
            if self.patterns.len() <= keep && self.state_bytes_bound() <= byte_target {
                break;
            }
            self.index_remove(coldest);
            let gone = self.patterns.remove(&coldest).expect("live pattern");
            self.pattern_bytes -= gone.wire_bytes;
            for alias in gone.aliases {
                self.aliases.remove(&alias);
            }
        }
        debug_assert!(newest.is_some());
    }

    fn index_insert(&mut self, id: u64) {
        let entry = &self.patterns[&id];
        let candidates = self.index.candidates.entry(template_anchor(entry)).or_default();
        let at = candidates.partition_point(|c| c.precedes(entry.constants, id));
        candidates.insert(
            at,
            Candidate {
                id,
                constants: entry.constants,
                keys: entry.keys.as_slice().into(),
                bounds: entry.bounds.as_slice().into(),
            },
        );
        let same_count = self.index.by_chunks.entry(count_key(entry.chunk_count())).or_default();
        let at = same_count.partition_point(|&x| x < id);
        same_count.insert(at, id);
        self.index.generation += 1;
        self.index.revision += 1;
    }

    fn index_remove(&mut self, id: u64) {
        let entry = &self.patterns[&id];
        let anchor = template_anchor(entry);
        if let Some(candidates) = self.index.candidates.get_mut(&anchor) {
            candidates.retain(|c| c.id != id);
            if candidates.is_empty() {
                self.index.candidates.remove(&anchor);
            }
        }
        let key = count_key(entry.chunk_count());
        if let Some(ids) = self.index.by_chunks.get_mut(&key) {
            ids.retain(|&x| x != id);
            if ids.is_empty() {
                self.index.by_chunks.remove(&key);
            }
        }
        self.index.generation += 1;
        self.index.revision += 1;
    }

    fn rebuild_index(&mut self) {
        self.index = Index::default();
        self.pattern_bytes = self.patterns.values().map(|e| e.wire_bytes).sum();
        let ids: Vec<u64> = self.patterns.keys().copied().collect();
        for id in ids {
            self.index_insert(id);
        }
    }
}

#[cfg(test)]
mod tests;
