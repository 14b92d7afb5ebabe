//! A workspace's clustering-engine state: opaque bytes, versioned, stored through the [`Table`]
//! port so that it lives in DynamoDB in AWS and in SQLite locally.
//!
//! Layout: one *head* item (`WS#<ws>` / `ENGINE`) whose item version is the state's version. A
//! tiny state (at most [`INLINE_CHARS`]) is stored inline in the head; any other is split into
//! *chunk* items of at most [`CHUNK_CHARS`] characters (DynamoDB's item limit is 400 KB), keyed
//! by version and digest. Keeping the head small keeps [`Store::engine_state_version`] — which
//! the cluster worker calls once per batch to check its cached engine is current — at one read
//! unit, whatever the state's size.
//!
//! The head also carries the *pending merges* of the save that wrote it: pattern ids the engine
//! merged in that step, which the worker must then reflect in the pattern records. Saved in the
//! same write as the state, they survive a crash between the save and that follow-up work: the
//! next worker to load this version applies them (idempotently).
//!
//! Writing: chunks first, then the head with a condition on the version the writer read. So a
//! head never names chunks that are not there yet, and two writers can never both win: the
//! loser gets [`StoreError::ConditionFailed`], deletes its chunks, and must re-read, re-apply
//! and retry. After a successful flip the superseded chunks are deleted.
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

/// The size of each chunk, in characters of base64 (one byte each). 350 KB leaves room under
/// DynamoDB's 400 KB item limit for the keys and attributes.
pub const CHUNK_CHARS: usize = 350_000;
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
            let text = match &head.inline {
                Some(text) => text.clone(),
                None => {
                    let mut text = String::with_capacity(head.len.div_ceil(3) * 4);
                    for key in &head.chunks {
                        match self.table().get(&engine_chunks_pk(workspace.as_str()), key).await? {
                            Some(item) => {
                                let chunk: Chunk =
                                    serde_json::from_str(&item.data).map_err(|err| corrupt(workspace, err))?;
                                text.push_str(&chunk.text);
                            }
                            // Replaced and cleaned up by a writer since we read the head.
                            None => continue 'attempt,
                        }
                    }
                    text
                }
            };
            let bytes = STANDARD.decode(text.as_bytes()).map_err(|err| corrupt(workspace, err))?;
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
        let digest = digest(bytes);
        let text = STANDARD.encode(bytes);
        let chunks_pk = engine_chunks_pk(workspace.as_str());
        let mut head = Head {
            digest: digest.clone(),
            len: bytes.len(),
            inline: None,
            chunks: Vec::new(),
            pending_merges: pending_merges.to_vec(),
        };
        if text.len() <= INLINE_CHARS {
            head.inline = Some(text);
        } else {
            // base64 is ASCII, so any byte offset is a character boundary.
            for (index, piece) in text.as_bytes().chunks(CHUNK_CHARS).enumerate() {
                let key = engine_chunk_sk(version, &digest, index);
                let chunk = Chunk { text: String::from_utf8(piece.to_vec()).expect("base64 is ASCII") };
                let item =
                    Item::new(chunks_pk.clone(), key.clone(), serde_json::to_string(&chunk).expect("serializes"));
                self.table().write(Write::Put { item, condition: Condition::Always }).await?;
                head.chunks.push(key);
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
                // Our chunks are named by nobody; remove them unless the winner wrote the very
                // same bytes (same version and digest, hence the same keys).
                if matches!(err, StoreError::ConditionFailed) && !written.chunk_keys.is_empty() {
                    let winner = self.table().get(&workspace_pk(workspace.as_str()), ENGINE_STATE_SK).await;
                    let keep = match winner {
                        Ok(Some(item)) => {
                            serde_json::from_str::<Head>(&item.data).map(|head| head.chunks).unwrap_or_default()
                        }
                        _ => written.chunk_keys.clone(),
                    };
                    self.delete_chunks(&chunks_pk, &written.chunk_keys, &keep).await;
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
    fn digest_is_fnv1a_64() {
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
    }
}
