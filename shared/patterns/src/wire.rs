//! Serialized form of an [`Engine`]: only the patterns and aliases; indexes are rebuilt on load.
//!
//! `to_bytes` = `MAGIC` + `FORMAT_VERSION` + postcard (varint-based, stable 1.0 wire format) of
//! [`EngineWire`]. The same `EngineWire` backs the serde implementation of `Engine`, so JSON (or
//! any serde format) and the binary form carry identical information.
//!
//! Version 2 added the state's byte cap after the pattern cap; version 1 states (no byte cap)
//! still decode, with the default cap. Templates of version 1 keep their tokens; a token or
//! template longer than today's caps is kept as it was (it only ever shrinks by eviction).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{lexer, Engine, Entry, Pattern, PatternId, SlotKind, TemplateToken, Token};

const MAGIC: &[u8; 4] = b"CLPE";
const FORMAT_VERSION: u8 = 2;
const FORMAT_VERSION_1: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not produced by `Engine::to_bytes`.
    BadMagic,
    /// Produced by a newer (or unknown) format.
    UnsupportedVersion(u8),
    /// The payload does not decode.
    Malformed(String),
    /// The payload decodes but violates the engine's invariants.
    Inconsistent(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadMagic => write!(f, "not a serialized pattern engine"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported pattern engine format version {v}"),
            DecodeError::Malformed(why) => write!(f, "malformed pattern engine state: {why}"),
            DecodeError::Inconsistent(why) => write!(f, "inconsistent pattern engine state: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[derive(Serialize, Deserialize)]
pub(crate) struct EngineWire {
    max_patterns: u64,
    max_state_bytes: u64,
    next_id: u64,
    clock: u64,
    patterns: Vec<PatternWire>,
}

#[derive(Serialize, Deserialize)]
struct PatternWire {
    id: u64,
    tokens: Vec<TokenWire>,
    count: u64,
    first_seen_ms: i64,
    last_seen_ms: i64,
    samples: Vec<String>,
    last_used: u64,
    /// Merged ids resolving to this pattern, oldest first.
    aliases: Vec<u64>,
}

/// The spacing flag is folded into the variant so that a token costs one tag byte plus its text.
#[derive(Serialize, Deserialize)]
enum TokenWire {
    Text(String),
    SpacedText(String),
    Slot(SlotKind),
    SpacedSlot(SlotKind),
}

impl From<Engine> for EngineWire {
    fn from(engine: Engine) -> Self {
        EngineWire::from_ref(&engine)
    }
}

impl EngineWire {
    fn from_ref(engine: &Engine) -> Self {
        EngineWire {
            max_patterns: engine.max_patterns as u64,
            max_state_bytes: engine.max_state_bytes as u64,
            next_id: engine.next_id,
            clock: engine.clock,
            patterns: engine
                .patterns
                .values()
                .map(|e| PatternWire {
                    id: e.pattern.id.0,
                    tokens: e
                        .tokens
                        .iter()
                        .map(|t| match (&t.token, t.space_before) {
                            (Token::Text(s), false) => TokenWire::Text(s.to_string()),
                            (Token::Text(s), true) => TokenWire::SpacedText(s.to_string()),
                            (Token::Slot(k), false) => TokenWire::Slot(*k),
                            (Token::Slot(k), true) => TokenWire::SpacedSlot(*k),
                        })
                        .collect(),
                    count: e.pattern.count,
                    first_seen_ms: e.pattern.first_seen_ms,
                    last_seen_ms: e.pattern.last_seen_ms,
                    samples: e.pattern.sample_issue_ids.clone(),
                    last_used: e.last_used,
                    aliases: e.aliases.clone(),
                })
                .collect(),
        }
    }
}

impl TryFrom<EngineWire> for Engine {
    type Error = DecodeError;

    fn try_from(w: EngineWire) -> Result<Self, DecodeError> {
        let bad = |why: String| Err(DecodeError::Inconsistent(why));
        let max_patterns = usize::try_from(w.max_patterns).unwrap_or(usize::MAX);
        if max_patterns == 0 {
            return bad("capacity limit is zero".into());
        }
        if w.patterns.len() > max_patterns {
            return bad(format!("{} patterns exceed the limit {max_patterns}", w.patterns.len()));
        }
        let max_state_bytes = usize::try_from(w.max_state_bytes).unwrap_or(usize::MAX);
        let mut engine = Engine::with_limits(max_patterns, max_state_bytes);
        engine.next_id = w.next_id;
        engine.clock = w.clock;
        for p in w.patterns {
            if p.id == 0 || p.id >= w.next_id {
                return bad(format!("pattern id {} outside 1..{}", p.id, w.next_id));
            }
            // No tokens is what `assign` makes of a record that lexes to nothing (a blank title),
            // so the decoder takes what the encoder writes.
            if p.tokens.len() > lexer::MAX_TOKENS {
                return bad(format!("pattern {} has {} tokens", p.id, p.tokens.len()));
            }
            if p.samples.len() > crate::MAX_SAMPLES || p.aliases.len() > crate::MAX_ALIASES_PER_PATTERN {
                return bad(format!("pattern {} exceeds sample or alias bounds", p.id));
            }
            for &alias in &p.aliases {
                if alias == 0 || alias >= w.next_id || engine.aliases.insert(alias, p.id).is_some() {
                    return bad(format!("alias {alias} of pattern {} is invalid or duplicated", p.id));
                }
            }
            let tokens = p
                .tokens
                .into_iter()
                .map(|t| match t {
                    TokenWire::Text(s) => TemplateToken { token: Token::Text(s.into()), space_before: false },
                    TokenWire::SpacedText(s) => TemplateToken { token: Token::Text(s.into()), space_before: true },
                    TokenWire::Slot(k) => TemplateToken { token: Token::Slot(k), space_before: false },
                    TokenWire::SpacedSlot(k) => TemplateToken { token: Token::Slot(k), space_before: true },
                })
                .collect();
            let mut entry = Entry {
                pattern: Pattern {
                    id: PatternId(p.id),
                    template: String::new(),
                    count: p.count,
                    first_seen_ms: p.first_seen_ms,
                    last_seen_ms: p.last_seen_ms,
                    sample_issue_ids: p.samples,
                },
                tokens,
                constants: 0,
                keys: Vec::new(),
                bounds: Vec::new(),
                chunk_hashes: Vec::new(),
                variable_ok: Vec::new(),
                last_used: p.last_used,
                aliases: p.aliases,
                wire_bytes: 0,
            };
            entry.refresh_derived();
            if engine.patterns.insert(p.id, entry).is_some() {
                return bad(format!("pattern id {} appears twice", p.id));
            }
        }
        if let Some(alias) = engine.aliases.keys().find(|a| engine.patterns.contains_key(a)) {
            return bad(format!("id {alias} is both live and an alias"));
        }
        engine.rebuild_index();
        Ok(engine)
    }
}

pub(crate) fn encode(engine: &Engine) -> Vec<u8> {
    let wire = EngineWire::from_ref(engine);
    let mut out = Vec::with_capacity(64 + engine.patterns.len() * 64);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    postcard::to_extend(&wire, out).expect("serializing into a Vec cannot fail")
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Engine, DecodeError> {
    let payload = bytes.strip_prefix(MAGIC.as_slice()).ok_or(DecodeError::BadMagic)?;
    let (&version, payload) = payload.split_first().ok_or(DecodeError::BadMagic)?;
    let malformed = |e: postcard::Error| DecodeError::Malformed(e.to_string());
    let wire: EngineWire = match version {
        FORMAT_VERSION => postcard::from_bytes(payload).map_err(malformed)?,
        FORMAT_VERSION_1 => postcard::from_bytes::<EngineWireV1>(payload).map_err(malformed)?.into(),
        _ => return Err(DecodeError::UnsupportedVersion(version)),
    };
    Engine::try_from(wire)
}

/// Version 1: no byte cap.
#[derive(Deserialize)]
struct EngineWireV1 {
    max_patterns: u64,
    next_id: u64,
    clock: u64,
    patterns: Vec<PatternWire>,
}

impl From<EngineWireV1> for EngineWire {
    fn from(v1: EngineWireV1) -> Self {
        EngineWire {
            max_patterns: v1.max_patterns,
            max_state_bytes: crate::DEFAULT_MAX_STATE_BYTES as u64,
            next_id: v1.next_id,
            clock: v1.clock,
            patterns: v1.patterns,
        }
    }
}
