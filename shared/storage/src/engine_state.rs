//! A workspace's clustering-engine state: opaque bytes, versioned, stored through the [`Table`]
//! port so that it lives in DynamoDB in AWS and in SQLite locally.
//!
//! Layout: one *head* item (`WS#<ws>` / `ENGINE`) whose item version is the state's version. A
//! tiny state (at most [`INLINE_CHARS`]) is stored inline in the head; any other is split into
//! *chunk* items (DynamoDB's item limit is 400 KB), each named by the version that wrote it and
//! the digest of its bytes. Keeping the head small keeps [`Store::engine_state_version`] — which
//! the cluster worker calls once per batch to check its cached engine is current — at one read
//! unit, whatever the state's size.
//!
//! Chunk boundaries are *content-defined* (a rolling hash of the last bytes picks them, between
//! [`MIN_CHUNK_BYTES`] and [`MAX_CHUNK_BYTES`]), so a change in one place of the state moves the
//! boundaries around that place only. A save writes only the chunks that the version it read
//! does not already have (same digest), and names the others as they are: between two saves
//! that touched a few patterns, most chunks are reused rather than rewritten.
//!
//! The head also carries the *pending merges* of the save that wrote it: pattern ids the engine
//! merged in that step, which the worker must then reflect in the pattern records. Saved in the
//! same write as the state, they survive a crash between the save and that follow-up work: the
//! next worker to load this version applies them (idempotently).
//!
//! Writing: new chunks first, then the head with a condition on the version the writer read. So
//! a head never names chunks that are not there yet, and two writers can never both win: the
//! loser gets [`StoreError::ConditionFailed`], deletes the chunks it wrote (never those it
//! reused), and must re-read, re-apply and retry. After a successful flip the chunks of the
//! version read that the new one does not name are deleted. A reused chunk is only ever deleted
//! by the writer that supersedes a head naming it, so no head names a deleted chunk.
//!
//! Reading: the head, then its chunks; the assembled bytes must match the digest in the head. A
//! reader that raced a writer (the chunks it wanted were just deleted) starts again from the
//! head, so a reader never returns a torn state.
//!
//! A writer that crashes between writing chunks and flipping the head leaves those chunks
//! behind, unreferenced; they are harmless (no head names them) and are the only garbage.

use crate::repo::Store;
use crate::schema::{engine_chunk_sk, engine_chunks_pk, workspace_pk, ENGINE_STATE_SK};
use crate::table::{Condition, Item, StoreError, Write};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use causeloop_domain::WorkspaceId;
use serde::{Deserialize, Serialize};

/// The largest chunk, in characters of base64 (one byte each). 350 KB leaves room under
/// DynamoDB's 400 KB item limit for the keys and attributes.
pub const CHUNK_CHARS: usize = 350_000;
/// Chunks are cut where the rolling hash says, but never shorter than this many bytes of state
/// (except the last) ...
pub const MIN_CHUNK_BYTES: usize = 16 << 10;
/// ... nor longer than this (whose base64 fits [`CHUNK_CHARS`]). The cut points average about
/// 48 KiB of state apart: a 1 MiB state is about 22 chunks.
pub const MAX_CHUNK_BYTES: usize = CHUNK_CHARS / 4 * 3;
/// A cut follows a byte where the rolling hash has these bits clear (one in 32 Ki positions past
/// the minimum).
const CUT_MASK: u64 = (1 << 15) - 1;
/// Largest encoded state kept inline in the head: with the rest of the head it stays under the
/// 4 KB of one strongly consistent read unit.
pub const INLINE_CHARS: usize = 3_000;
/// Reads restarted because a writer replaced the state mid-read, before giving up.
const READ_ATTEMPTS: usize = 5;

/// Where a stored state lives: enough to condition the next write on it and to clean up after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion {
    pub version: u64,
    chunk_keys: Vec<String>,
}

impl StateVersion {
    /// Number of chunk items (0 when the state is inline in the head).
    pub fn chunk_count(&self) -> usize {
        self.chunk_keys.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub version: StateVersion,
    pub bytes: Vec<u8>,
    /// (merged-away id, survivor) pairs saved with this version; see the module documentation.
    pub pending_merges: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
struct Head {
    /// FNV-1a 64 of the bytes, hex: detects a torn read and names the chunks.
    digest: String,
    len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inline: Option<String>,
    #[serde(default)]
    chunks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_merges: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
struct Chunk {
    text: String,
}

/// Content-defined cut points of `bytes`: the end offset of each chunk. A gear hash (one table
/// value per byte, shifted each step) depends on the last 64 bytes only, so the same content
/// gives the same cuts wherever it sits.
fn cut_points(bytes: &[u8]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut start = 0;
    let mut hash: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        hash = (hash << 1).wrapping_add(GEAR[usize::from(byte)]);
        let len = i + 1 - start;
        if (len >= MIN_CHUNK_BYTES && hash & CUT_MASK == 0) || len == MAX_CHUNK_BYTES {
            cuts.push(i + 1);
            start = i + 1;
            hash = 0;
        }
    }
    if start < bytes.len() {
        cuts.push(bytes.len());
    }
    cuts
}

/// The gear table: 256 fixed pseudo-random words (splitmix64 of the byte), computed at compile
/// time so that cut points never change between builds.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut z = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// The digest part of a chunk key (`<version>#<digest>#<index>`, see `engine_chunk_sk`).
fn chunk_digest(key: &str) -> Option<&str> {
    key.split('#').nth(1)
}

/// FNV-1a, 64 bits: stable across Rust releases (unlike `DefaultHasher`), which a stored digest needs.
fn digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn corrupt(workspace: &WorkspaceId, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("engine state of {workspace}: {why}"))
}

impl Store {
    /// The workspace's current engine state, or `None` if it never saved one.
    pub async fn engine_state(&self, workspace: &WorkspaceId) -> Result<Option<StoredState>, StoreError> {
        let pk = workspace_pk(workspace.as_str());
        'attempt: for _ in 0..READ_ATTEMPTS {
            let Some(head_item) = self.table().get(&pk, ENGINE_STATE_SK).await? else {
                return Ok(None);
            };
            let head: Head = serde_json::from_str(&head_item.data).map_err(|err| corrupt(workspace, err))?;
            let bytes = match &head.inline {
                Some(text) => STANDARD.decode(text.as_bytes()).map_err(|err| corrupt(workspace, err))?,
                None => {
                    let mut bytes = Vec::with_capacity(head.len);
                    for key in &head.chunks {
                        match self.table().get(&engine_chunks_pk(workspace.as_str()), key).await? {
                            Some(item) => {
                                let chunk: Chunk =
                                    serde_json::from_str(&item.data).map_err(|err| corrupt(workspace, err))?;
                                STANDARD
                                    .decode_vec(chunk.text.as_bytes(), &mut bytes)
                                    .map_err(|err| corrupt(workspace, err))?;
                            }
                            // Replaced and cleaned up by a writer since we read the head.
                            None => continue 'attempt,
                        }
                    }
                    bytes
                }
            };
            if bytes.len() != head.len || digest(&bytes) != head.digest {
                continue 'attempt;
            }
            return Ok(Some(StoredState {
                version: StateVersion { version: head_item.version, chunk_keys: head.chunks },
                bytes,
                pending_merges: head.pending_merges,
            }));
        }
        Err(StoreError::Throttled)
    }

    /// The version of the workspace's stored state, from the small head alone: lets a worker
    /// holding a cached engine confirm it is still current for one read unit.
    pub async fn engine_state_version(&self, workspace: &WorkspaceId) -> Result<Option<u64>, StoreError> {
        Ok(self.table().get(&workspace_pk(workspace.as_str()), ENGINE_STATE_SK).await?.map(|head| head.version))
    }

    /// Saves `bytes` as the state that follows `read` (`None`: there must be no state yet), with
    /// the merges this step made. `ConditionFailed` means another writer saved first: re-read,
    /// re-apply, retry.
    pub async fn save_engine_state(
        &self,
        workspace: &WorkspaceId,
        bytes: &[u8],
        read: Option<&StateVersion>,
        pending_merges: &[(u64, u64)],
    ) -> Result<StateVersion, StoreError> {
        let version = read.map_or(1, |read| read.version + 1);
        let chunks_pk = engine_chunks_pk(workspace.as_str());
        let mut head = Head {
            digest: digest(bytes),
            len: bytes.len(),
            inline: None,
            chunks: Vec::new(),
            pending_merges: pending_merges.to_vec(),
        };
        // The chunks this save wrote itself (the others are the read version's, reused).
        let mut wrote: Vec<String> = Vec::new();
        if bytes.len().div_ceil(3) * 4 <= INLINE_CHARS {
            head.inline = Some(STANDARD.encode(bytes));
        } else {
            let reusable = read.map(|read| read.chunk_keys.as_slice()).unwrap_or_default();
            let mut start = 0;
            for end in cut_points(bytes) {
                let piece = &bytes[start..end];
                let chunk_digest_hex = digest(piece);
                let reused = reusable.iter().find(|key| chunk_digest(key) == Some(chunk_digest_hex.as_str())).cloned();
                let key = match reused {
                    Some(key) => key,
                    None => {
                        // Each chunk is encoded on its own (a state's text is the chunks' texts joined).
                        let key = engine_chunk_sk(version, &chunk_digest_hex, 0);
                        if !wrote.contains(&key) {
                            let chunk = Chunk { text: STANDARD.encode(piece) };
                            let item = Item::new(
                                chunks_pk.clone(),
                                key.clone(),
                                serde_json::to_string(&chunk).expect("serializes"),
                            );
                            if let Err(err) =
                                self.table().write(Write::Put { item, condition: Condition::Always }).await
                            {
                                self.delete_chunks(&chunks_pk, &wrote, &[]).await;
                                return Err(err);
                            }
                            wrote.push(key.clone());
                        }
                        key
                    }
                };
                head.chunks.push(key);
                start = end;
            }
        }
        let condition = match read {
            None => Condition::NotExists,
            Some(read) => Condition::Version(read.version),
        };
        let head_item = Item::new(
            workspace_pk(workspace.as_str()),
            ENGINE_STATE_SK,
            serde_json::to_string(&head).expect("head serializes"),
        )
        .with_version(version);
        let written = StateVersion { version, chunk_keys: head.chunks };
        match self.table().write(Write::Put { item: head_item, condition }).await {
            Ok(()) => {
                if let Some(read) = read {
                    self.delete_chunks(&chunks_pk, &read.chunk_keys, &written.chunk_keys).await;
                }
                Ok(written)
            }
            Err(err) => {
                // The chunks we wrote are named by nobody; remove them unless the winner wrote the
                // very same chunk (same version and digest, hence the same key). Reused chunks
                // belong to the version read, which is not ours to clean up.
                if matches!(err, StoreError::ConditionFailed) && !wrote.is_empty() {
                    let winner = self.table().get(&workspace_pk(workspace.as_str()), ENGINE_STATE_SK).await;
                    let keep = match winner {
                        Ok(Some(item)) => {
                            serde_json::from_str::<Head>(&item.data).map(|head| head.chunks).unwrap_or_default()
                        }
                        _ => wrote.clone(),
                    };
                    self.delete_chunks(&chunks_pk, &wrote, &keep).await;
                }
                Err(err)
            }
        }
    }

    /// Best effort: a chunk that survives is unreferenced garbage, never a correctness problem.
    async fn delete_chunks(&self, chunks_pk: &str, keys: &[String], keep: &[String]) {
        for key in keys.iter().filter(|key| !keep.contains(key)) {
            let delete = Write::Delete { pk: chunks_pk.to_string(), sk: key.clone(), condition: Condition::Always };
            if let Err(err) = self.table().write(delete).await {
                tracing::warn!(error = %err, "could not delete a superseded engine state chunk");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn cut_points_are_bounded_and_follow_the_content() {
        let mut x: u64 = 3;
        let bytes: Vec<u8> = (0..600_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let cuts = super::cut_points(&bytes);
        assert_eq!(cuts.last(), Some(&bytes.len()));
        let mut start = 0;
        for &end in &cuts[..cuts.len() - 1] {
            assert!((super::MIN_CHUNK_BYTES..=super::MAX_CHUNK_BYTES).contains(&(end - start)));
            start = end;
        }
        // Bytes inserted at the front move the first cut only: the later ones follow the content.
        let mut shifted = b"twelve bytes".to_vec();
        shifted.extend_from_slice(&bytes);
        let moved: Vec<usize> = super::cut_points(&shifted).iter().map(|c| c - 12).collect();
        assert_eq!(moved[1..], cuts[1..]);
        assert_eq!(super::cut_points(b"tiny"), [4]);
    }

    #[test]
    fn digest_is_fnv1a_64() {
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
    }
}
