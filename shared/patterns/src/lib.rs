//! Incremental clustering of failure signals into patterns (templates with typed variable slots).
//!
//! The engine is pure: no I/O, clocks or randomness, and every decision is a deterministic function
//! of the state and the input, so a serialized engine continues exactly as the original would.
//!
//! # How a record becomes a pattern
//! 1. **Typed masking** ([`lexer`]): the record is split into words and punctuation; numbers, IPs,
//!    hex, UUIDs, paths, URLs, durations, digit-bearing identifiers and dates become slots.
//!    Adjacent whitespace-separated slots fold into one, so lists of values of varying length keep
//!    one shape.
//! 2. **Template match**: the record joins the most specific live template of the same token count
//!    that accepts it (a slot accepts any slot or word, never punctuation; a constant only itself).
//!    A memo keyed by the masked signature makes the common case one hash lookup.
//! 3. **Otherwise a new template** is created from the record, and the engine looks for templates
//!    that differ from it in exactly one non-punctuation position (the "hole"), everything else
//!    equal. That position is judged variable — and the siblings merge into the oldest, with a slot
//!    there — when one of them already has a slot at it, or when it has taken
//!    [`DISTINCT_VALUES_FOR_VARIABLE`] distinct constant values. Up to three alternatives are kept
//!    as distinct events because that is how enumerations look (HTTP verbs, on/off, state pairs);
//!    free variables (user names, hosts, components) quickly exceed it. Merges cascade, since a
//!    generalised template may now have siblings of its own.
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
//! * State is bounded: at most `max_patterns` live patterns (least recently assigned evicted
//!   first, in small batches), bounded templates, samples and aliases.

mod lexer;
mod wire;

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use lexer::{Class, Lexeme};
use serde::{Deserialize, Serialize};

pub use wire::DecodeError;

/// Live patterns kept by [`Engine::new`]; beyond it the least recently assigned is evicted.
pub const DEFAULT_MAX_PATTERNS: usize = 5_000;
/// Sample issue ids kept per pattern (the first ones seen).
pub const MAX_SAMPLES: usize = 5;
/// Issue ids longer than this are not kept as samples (keeps state bounded).
pub const MAX_SAMPLE_ID_BYTES: usize = 256;
/// Merged ids remembered per surviving pattern.
pub const MAX_ALIASES_PER_PATTERN: usize = 64;
/// A position that has shown this many distinct constants (all else equal) is a variable.
pub const DISTINCT_VALUES_FOR_VARIABLE: usize = 4;

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
    /// Logical time (number of assignments so far) of the last assignment, for eviction.
    last_used: u64,
    /// Ids that resolve to this pattern, oldest first.
    aliases: Vec<u64>,
}

impl Entry {
    fn refresh_derived(&mut self) {
        self.constants = self.tokens.iter().filter(|t| matches!(t.token, Token::Text(_))).count();
        self.keys = self.tokens.iter().map(|t| TokenKey::of(&t.token)).collect();
        self.pattern.template = render(&self.tokens);
    }
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

fn lexeme_hash(l: &Lexeme<'_>) -> u64 {
    match l.class {
        Class::Slot(_) => SLOT_HASH,
        Class::Word | Class::Punct => hash_text(l.text),
    }
}

fn signature(hashes: &[u64]) -> u64 {
    fmix(hashes.iter().fold(hashes.len() as u64, |h, &x| mix(h, x)))
}

/// A template token as matching sees it: a constant by the hash of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKey {
    Constant(u64),
    Slot,
}

impl TokenKey {
    fn of(token: &Token) -> TokenKey {
        match token {
            Token::Text(text) => TokenKey::Constant(hash_text(text)),
            Token::Slot(_) => TokenKey::Slot,
        }
    }
}

/// A constant accepts only itself; a slot accepts any value or word, never punctuation.
/// `hashes` are the lexemes' [`lexeme_hash`]es.
fn accepts(keys: &[TokenKey], lexemes: &[Lexeme<'_>], hashes: &[u64]) -> bool {
    keys.len() == lexemes.len()
        && keys.iter().zip(lexemes).zip(hashes).all(|((key, l), &hash)| match (key, l.class) {
            (TokenKey::Constant(constant), Class::Word | Class::Punct) => *constant == hash,
            (TokenKey::Constant(_), Class::Slot(_)) => false,
            (TokenKey::Slot, Class::Punct) => false,
            (TokenKey::Slot, _) => true,
        })
}

/// The candidate bucket of templates (or records) of `len` tokens whose first token is `first`
/// (`None` for a slot). Buckets whose keys collide merely share a list: every candidate is
/// checked in full.
fn bucket_key(len: usize, first: Option<u64>) -> u64 {
    fmix(mix(mix(len as u64, u64::from(first.is_some())), first.unwrap_or(0)))
}

/// The buckets a record's templates can be in: a first word may meet a constant or a slot,
/// punctuation only a constant, a value only a slot.
fn record_buckets(lexemes: &[Lexeme<'_>], hashes: &[u64]) -> [Option<u64>; 2] {
    let len = lexemes.len();
    match lexemes.first().map(|l| l.class) {
        None => [Some(bucket_key(0, None)), None],
        Some(Class::Word) => [Some(bucket_key(len, Some(hashes[0]))), Some(bucket_key(len, None))],
        Some(Class::Punct) => [Some(bucket_key(len, Some(hashes[0]))), None],
        Some(Class::Slot(_)) => [Some(bucket_key(len, None)), None],
    }
}

fn template_bucket(keys: &[TokenKey]) -> u64 {
    let first = keys.first().and_then(|key| match key {
        TokenKey::Constant(hash) => Some(*hash),
        TokenKey::Slot => None,
    });
    bucket_key(keys.len(), first)
}

/// What matching needs of a live template, copied into the index so that scanning candidates
/// touches neither the pattern map nor the template's strings.
#[derive(Clone, Debug)]
struct Candidate {
    id: u64,
    constants: usize,
    keys: Box<[TokenKey]>,
}

impl Candidate {
    /// Candidates are kept most specific first (most constants, then the oldest): the order in
    /// which a record picks among the templates that accept it, so the first that accepts wins.
    fn precedes(&self, constants: usize, id: u64) -> bool {
        (self.constants, std::cmp::Reverse(self.id)) > (constants, std::cmp::Reverse(id))
    }
}

fn agree_except(a: &[TemplateToken], b: &[TemplateToken], hole: usize) -> bool {
    a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| i == hole || x.token.same_shape(&y.token))
}

/// For each generalisable position, a key shared by all templates that are equal everywhere else.
/// `keys` are the tokens' [`TokenKey`]s (a slot hashes as [`SLOT_HASH`]).
fn hole_keys(tokens: &[TemplateToken], keys: &[TokenKey]) -> Vec<(usize, u64)> {
    debug_assert!(tokens.iter().zip(keys).all(|(t, k)| TokenKey::of(&t.token) == *k));
    let n = tokens.len();
    let hash = |i: usize| match keys[i] {
        TokenKey::Constant(hash) => hash,
        TokenKey::Slot => SLOT_HASH,
    };
    let mut suffix = vec![0x1319_8a2e_0370_7344u64; n + 1];
    for i in (0..n).rev() {
        suffix[i] = mix(suffix[i + 1], hash(i));
    }
    // The leading word names the event (a verb, a component, an event key), as in Drain's
    // prefix tree: it is never generalised by the clusterer, only by masking.
    let event_key = tokens.iter().position(|t| matches!(&t.token, Token::Text(_)) && t.token.is_generalisable());
    let mut prefix = 0x243f_6a88_85a3_08d3u64;
    let mut holes = Vec::new();
    for (p, token) in tokens.iter().enumerate() {
        if Some(p) != event_key && token.token.is_generalisable() {
            holes.push((p, fmix(prefix ^ suffix[p + 1].rotate_left(29) ^ ((p as u64) << 32 | n as u64))));
        }
        prefix = mix(prefix, hash(p));
    }
    holes
}

/// The ids of the live templates that share a hole key, ascending. Most keys belong to a single
/// template; it is kept inline rather than in a one-element `Vec`, which cost an allocation for
/// every generalisable position of every new template.
#[derive(Clone, Debug)]
enum HoleIds {
    One([u64; 1]),
    Many(Vec<u64>),
}

impl HoleIds {
    fn as_slice(&self) -> &[u64] {
        match self {
            HoleIds::One(id) => id,
            HoleIds::Many(ids) => ids,
        }
    }

    fn insert(&mut self, id: u64) {
        if let HoleIds::One([only]) = *self {
            *self = HoleIds::Many(vec![only]);
        }
        if let HoleIds::Many(ids) = self {
            let at = ids.partition_point(|&x| x < id);
            ids.insert(at, id);
        }
    }

    /// Removes `id`; returns whether no id is left.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            HoleIds::One([only]) => *only == id,
            HoleIds::Many(ids) => {
                ids.retain(|&x| x != id);
                ids.is_empty()
            }
        }
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
    /// Live templates by [`template_bucket`], each list in [`Candidate::precedes`] order.
    candidates: FastMap<u64, Vec<Candidate>>,
    /// Live templates by [`hole_keys`].
    holes: FastMap<u64, HoleIds>,
    memo: FastMap<u64, (u64, u64)>,
    /// Per-token hashes of the record being assigned, kept between calls to save an allocation.
    scratch_hashes: Vec<u64>,
    /// The lexeme buffer, empty between calls; see [`recycle`].
    scratch_lexemes: Vec<Lexeme<'static>>,
}

/// Hands an emptied buffer of lexemes to a caller with another lifetime, keeping its allocation:
/// collecting an empty `into_iter` of a same-layout type reuses the buffer in place (and if it
/// ever did not, the only cost would be an allocation).
fn recycle<'from, 'to>(mut lexemes: Vec<Lexeme<'from>>) -> Vec<Lexeme<'to>> {
    lexemes.clear();
    lexemes.into_iter().map(|_| unreachable!("the buffer is empty")).collect()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "wire::EngineWire", try_from = "wire::EngineWire")]
pub struct Engine {
    max_patterns: usize,
    next_id: u64,
    clock: u64,
    patterns: PatternMap,
    aliases: BTreeMap<u64, u64>,
    index: Index,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    pub fn new() -> Self {
        Engine::with_capacity_limit(DEFAULT_MAX_PATTERNS)
    }

    /// At most `max_patterns` (at least 1) live patterns; the least recently assigned is evicted.
    pub fn with_capacity_limit(max_patterns: usize) -> Self {
        Engine {
            max_patterns: max_patterns.max(1),
            next_id: 1,
            clock: 0,
            patterns: PatternMap::default(),
            aliases: BTreeMap::new(),
            index: Index::default(),
        }
    }

    pub fn max_patterns(&self) -> usize {
        self.max_patterns
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
        let mut hashes = std::mem::take(&mut self.index.scratch_hashes);
        hashes.clear();
        hashes.extend(lexemes.iter().map(lexeme_hash));
        let sig = signature(&hashes);
        let assignment = match self.find_template(sig, &lexemes, &hashes) {
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
        self.record_hit(assignment.pattern_id.0, &lexemes, issue_id, at_unix_ms);
        self.evict_over_capacity();
        self.index.scratch_hashes = hashes;
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

    fn find_template(&mut self, sig: u64, lexemes: &[Lexeme<'_>], hashes: &[u64]) -> Option<u64> {
        if let Some(&(generation, id)) = self.index.memo.get(&sig) {
            if generation == self.index.generation {
                if let Some(entry) = self.patterns.get(&id) {
                    if accepts(&entry.keys, lexemes, hashes) {
                        return Some(id);
                    }
                }
            }
        }
        // The most specific template that accepts the record (most constants, then the oldest).
        let mut best: Option<(usize, u64)> = None;
        for bucket in record_buckets(lexemes, hashes).into_iter().flatten() {
            for candidate in self.index.candidates.get(&bucket).map(Vec::as_slice).unwrap_or_default() {
                if best.is_some_and(|(constants, id)| !candidate.precedes(constants, id)) {
                    break;
                }
                if accepts(&candidate.keys, lexemes, hashes) {
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
            last_used: self.clock,
            aliases: Vec::new(),
        };
        entry.refresh_derived();
        self.patterns.insert(id, entry);
        self.index_insert(id);
        id
    }

    /// Merges templates that differ from `start` only in a position judged variable, repeatedly,
    /// and returns the final survivor with every id absorbed on the way.
    fn settle(&mut self, start: u64) -> (u64, Vec<u64>) {
        let mut current = start;
        let mut absorbed = Vec::new();
        while let Some((hole, siblings)) = self.variable_position(current) {
            let survivor = *siblings.iter().min().expect("at least two siblings");
            for &victim in siblings.iter().filter(|&&id| id != survivor) {
                self.absorb(survivor, victim);
                absorbed.push(victim);
            }
            self.generalise(survivor, hole);
            current = survivor;
        }
        (current, absorbed)
    }

    /// The first position at which template `id` and the templates equal to it everywhere else
    /// (its siblings, `id` included) show a variable, with those siblings.
    fn variable_position(&self, id: u64) -> Option<(usize, Vec<u64>)> {
        let entry = &self.patterns[&id];
        for (hole, key) in hole_keys(&entry.tokens, &entry.keys) {
            let Some(candidates) = self.index.holes.get(&key).map(HoleIds::as_slice) else { continue };
            if candidates.len() < 2 {
                continue;
            }
            let siblings: Vec<u64> = candidates
                .iter()
                .copied()
                .filter(|id| agree_except(&entry.tokens, &self.patterns[id].tokens, hole))
                .collect();
            if siblings.len() < 2 {
                continue;
            }
            let mut has_slot = false;
            let mut distinct: Vec<&str> = Vec::new();
            for id in &siblings {
                match &self.patterns[id].tokens[hole].token {
                    Token::Slot(_) => has_slot = true,
                    Token::Text(text) => {
                        if !distinct.contains(&&**text) {
                            distinct.push(text);
                        }
                    }
                }
            }
            if !has_slot && distinct.len() < DISTINCT_VALUES_FOR_VARIABLE {
                continue;
            }
            return Some((hole, siblings));
        }
        None
    }

    fn generalise(&mut self, id: u64, hole: usize) {
        self.index_remove(id);
        let entry = self.patterns.get_mut(&id).expect("live survivor");
        let kind = match entry.tokens[hole].token {
            Token::Slot(kind) => kind,
            Token::Text(_) => SlotKind::Any,
        };
        entry.tokens[hole].token = Token::Slot(kind);
        entry.refresh_derived();
        self.index_insert(id);
    }

    /// Moves `victim`'s history into `survivor` and turns `victim` into an alias of it.
    fn absorb(&mut self, survivor: u64, victim: u64) {
        self.index_remove(victim);
        let gone = self.patterns.remove(&victim).expect("live victim");
        let entry = self.patterns.get_mut(&survivor).expect("live survivor");
        let p = &mut entry.pattern;
        p.count += gone.pattern.count;
        p.first_seen_ms = p.first_seen_ms.min(gone.pattern.first_seen_ms);
        p.last_seen_ms = p.last_seen_ms.max(gone.pattern.last_seen_ms);
        for sample in gone.pattern.sample_issue_ids {
            if p.sample_issue_ids.len() < MAX_SAMPLES && !p.sample_issue_ids.contains(&sample) {
                p.sample_issue_ids.push(sample);
            }
        }
        for (mine, theirs) in entry.tokens.iter_mut().zip(&gone.tokens) {
            if let (Token::Slot(a), Token::Slot(b)) = (&mut mine.token, &theirs.token) {
                *a = a.join(*b);
            }
        }
        entry.refresh_derived();
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
    }

    fn forget_alias(&mut self, id: u64) {
        if let Some(survivor) = self.aliases.remove(&id) {
            if let Some(entry) = self.patterns.get_mut(&survivor) {
                entry.aliases.retain(|&a| a != id);
            }
        }
    }

    fn record_hit(&mut self, id: u64, lexemes: &[Lexeme<'_>], issue_id: Option<&str>, at_unix_ms: i64) {
        let entry = self.patterns.get_mut(&id).expect("assigned pattern is live");
        let p = &mut entry.pattern;
        p.count += 1;
        p.first_seen_ms = p.first_seen_ms.min(at_unix_ms);
        p.last_seen_ms = p.last_seen_ms.max(at_unix_ms);
        if let Some(issue) = issue_id {
            if p.sample_issue_ids.len() < MAX_SAMPLES
                && issue.len() <= MAX_SAMPLE_ID_BYTES
                && !p.sample_issue_ids.iter().any(|s| s == issue)
            {
                p.sample_issue_ids.push(issue.to_owned());
            }
        }
        let mut widened = false;
        for (t, l) in entry.tokens.iter_mut().zip(lexemes) {
            if let Token::Slot(kind) = &mut t.token {
                let seen = match l.class {
                    Class::Slot(k) => k,
                    Class::Word | Class::Punct => SlotKind::Any,
                };
                if kind.join(seen) != *kind {
                    *kind = SlotKind::Any;
                    widened = true;
                }
            }
        }
        if widened {
            entry.refresh_derived();
            self.index.revision += 1;
        }
        entry.last_used = self.clock;
    }

    /// Evicts the least recently assigned patterns. It frees a little more than the overflow
    /// (1/32 of the capacity) so that the scan over all patterns is paid once per many creations
    /// rather than on every one; the pattern just assigned is the most recent and always stays.
    fn evict_over_capacity(&mut self) {
        if self.patterns.len() <= self.max_patterns {
            return;
        }
        let keep = self.max_patterns - self.max_patterns / 32;
        // Any order will do: the (last_used, id) pairs are distinct, so the coldest are the same
        // set whichever way they are gathered, and they are sorted before removal.
        let mut by_age: Vec<(u64, u64)> =
            self.patterns.unordered_values().map(|e| (e.last_used, e.pattern.id.0)).collect();
        let evict = by_age.len() - keep;
        by_age.select_nth_unstable(evict - 1);
        by_age.truncate(evict);
        by_age.sort_unstable();
        for (_, coldest) in by_age {
            self.index_remove(coldest);
            let gone = self.patterns.remove(&coldest).expect("live pattern");
            for alias in gone.aliases {
                self.aliases.remove(&alias);
            }
        }
    }

    fn index_insert(&mut self, id: u64) {
        let entry = &self.patterns[&id];
        let candidates = self.index.candidates.entry(template_bucket(&entry.keys)).or_default();
        let at = candidates.partition_point(|c| c.precedes(entry.constants, id));
        candidates.insert(at, Candidate { id, constants: entry.constants, keys: entry.keys.as_slice().into() });
        for (_, key) in hole_keys(&entry.tokens, &entry.keys) {
            match self.index.holes.entry(key) {
                MapEntry::Vacant(vacant) => {
                    vacant.insert(HoleIds::One([id]));
                }
                MapEntry::Occupied(mut occupied) => occupied.get_mut().insert(id),
            }
        }
        self.index.generation += 1;
        self.index.revision += 1;
    }

    fn index_remove(&mut self, id: u64) {
        let entry = &self.patterns[&id];
        let bucket = template_bucket(&entry.keys);
        if let Some(candidates) = self.index.candidates.get_mut(&bucket) {
            candidates.retain(|c| c.id != id);
            if candidates.is_empty() {
                self.index.candidates.remove(&bucket);
            }
        }
        for (_, key) in hole_keys(&entry.tokens, &entry.keys) {
            if self.index.holes.get_mut(&key).is_some_and(|ids| ids.remove(id)) {
                self.index.holes.remove(&key);
            }
        }
        self.index.generation += 1;
        self.index.revision += 1;
    }

    fn rebuild_index(&mut self) {
        self.index = Index::default();
        let ids: Vec<u64> = self.patterns.keys().copied().collect();
        for id in ids {
            self.index_insert(id);
        }
    }
}

#[cfg(test)]
mod tests;
