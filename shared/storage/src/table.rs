//! The table port: the part of DynamoDB's single-table model that Causeloop uses.

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// One item. `data` is the entity as JSON; the key attributes exist for addressing and ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub gsi1: Option<IndexKey>,
    /// Unix seconds after which the item is gone (DynamoDB TTL). Reads hide expired items at
    /// once, because DynamoDB itself may take up to two days to delete them.
    pub expires_at: Option<i64>,
    /// Optimistic-concurrency version; writers condition on the version they read.
    pub version: u64,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, data: String) -> Self {
        Self { pk: pk.into(), sk: sk.into(), gsi1: None, expires_at: None, version: 1, data }
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some(IndexKey { pk: pk.into(), sk: sk.into() });
        self
    }

    pub fn expiring_at(mut self, unix_seconds: i64) -> Self {
        self.expires_at = Some(unix_seconds);
        self
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_unix)
    }
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    NotExists,
    Exists,
    /// The stored item exists with exactly this version.
    Version(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Sort keys `>=` the bound.
    AtLeast(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SkRange,
    pub descending: bool,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self { index, pk: pk.into(), sk: SkRange::All, descending: false, limit: 100, cursor: None }
    }

    pub fn sk(mut self, range: SkRange) -> Self {
        self.sk = range;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// An opaque pagination cursor: the position after the last item returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

/// The decoded position: the primary key of the last item, plus its index key on a GSI query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub pk: String,
    pub sk: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<IndexKey>,
}

impl Cursor {
    pub fn encode(position: &Position) -> Self {
        Cursor(URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("position serializes")))
    }

    /// Accepts a client-supplied cursor string; its contents are checked by [`Cursor::position_for`].
    pub fn from_client(text: &str) -> Self {
        Cursor(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decodes the position and checks that it belongs to `query`'s partition, so a cursor can
    /// never move a query into another partition (another workspace).
    pub fn position_for(&self, query: &Query) -> Result<Position, StoreError> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| StoreError::InvalidCursor)?;
        let position: Position = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let partition = match (query.index, &position.index) {
            (Index::Primary, None) => &position.pk,
            (Index::Gsi1, Some(index)) => &index.pk,
            _ => return Err(StoreError::InvalidCursor),
        };
        if partition != &query.pk {
            return Err(StoreError::InvalidCursor);
        }
        Ok(position)
    }

    pub fn after_item(item: &Item, index: Index) -> Self {
        Cursor::encode(&Position {
            pk: item.pk.clone(),
            sk: item.sk.clone(),
            index: match index {
                Index::Primary => None,
                Index::Gsi1 => item.gsi1.clone(),
            },
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition did not hold")]
    ConditionFailed,
    #[error("the store is throttling requests; retry later")]
    Throttled,
    /// An optimistic update lost the race to concurrent writers on every attempt
    /// ([`crate::update::UPDATE_ATTEMPTS`]).
    #[error("the record kept changing concurrently; retry later")]
    Contended,
    #[error("the pagination cursor is not valid for this list")]
    InvalidCursor,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// True for failures that a later retry may not hit (throttling, transient backend errors).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Throttled | StoreError::Contended | StoreError::Backend(_))
    }
}

/// DynamoDB's limit on items per transaction.
pub const MAX_TRANSACTION_WRITES: usize = 100;
/// DynamoDB's limit on keys per BatchGetItem request: [`Table::get_many`] asks for at most this
/// many items per round trip.
pub const MAX_BATCH_GET_KEYS: usize = 100;

/// DynamoDB's limit on a transaction's total size is 4 MB; chunks stay well under it, leaving
/// room for attribute names and the service's own accounting.
pub const MAX_TRANSACTION_BYTES: usize = 3 * 1024 * 1024;

/// Splits independent writes into transactions DynamoDB accepts: at most
/// [`MAX_TRANSACTION_WRITES`] writes and [`MAX_TRANSACTION_BYTES`] each, in order.
pub fn transaction_chunks(writes: Vec<Write>) -> Vec<Vec<Write>> {
    pack_transactions(writes.into_iter().map(|write| vec![write]).collect())
}

/// Packs groups of writes, in order, into as few transactions as DynamoDB's limits allow,
/// never splitting a group: the writes of one group commit together. A group over the limits
/// gets a transaction of its own (which the store then refuses whole, writing nothing).
pub fn pack_transactions(groups: Vec<Vec<Write>>) -> Vec<Vec<Write>> {
    let mut chunks: Vec<Vec<Write>> = Vec::new();
    let mut bytes = 0;
    for group in groups.into_iter().filter(|group| !group.is_empty()) {
        let size: usize = group.iter().map(Write::size_bytes).sum();
        match chunks.last_mut() {
            Some(chunk)
                if chunk.len() + group.len() <= MAX_TRANSACTION_WRITES && bytes + size <= MAX_TRANSACTION_BYTES =>
            {
                bytes += size;
                chunk.extend(group);
            }
            _ => {
                bytes = size;
                chunks.push(group);
            }
        }
    }
    chunks
}

impl Write {
    /// The bytes this write sends, approximately (keys and data; attribute names not counted).
    pub fn size_bytes(&self) -> usize {
        match self {
            Write::Put { item, .. } => {
                item.pk.len()
                    + item.sk.len()
                    + item.data.len()
                    + item.gsi1.as_ref().map_or(0, |i| i.pk.len() + i.sk.len())
            }
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => pk.len() + sk.len(),
        }
    }
}

/// The (pk, sk) of one item, as [`Table::get_many`] takes them.
pub type Key = (String, String);

#[async_trait]
pub trait Table: Send + Sync {
    /// A strongly consistent read; expired items are absent.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    /// Strongly consistent reads of many items, [`MAX_BATCH_GET_KEYS`] per round trip; the
    /// answer is aligned with `keys` (a key may repeat); expired items are absent.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError>;
    async fn write(&self, write: Write) -> Result<(), StoreError>;
    /// All writes happen or none does; at most [`MAX_TRANSACTION_WRITES`], each to a distinct item.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// One page in sort-key order. A page may hold fewer than `limit` items (expired ones are
    /// filtered after the limit, as in DynamoDB) while `next` is still set.
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(sk: usize, bytes: usize) -> Write {
        Write::Put { item: Item::new("P", format!("{sk:04}"), "x".repeat(bytes)), condition: Condition::Always }
    }

    fn sks(chunk: &[Write]) -> Vec<String> {
        chunk
            .iter()
            .map(|write| match write {
                Write::Put { item, .. } => item.sk.clone(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn transaction_chunks_keep_order_and_both_limits() {
        let chunks = transaction_chunks((0..250).map(|n| put(n, 10)).collect());
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 100, 50]);
        let all: Vec<String> = chunks.iter().flat_map(|chunk| sks(chunk)).collect();
        assert_eq!(all, (0..250).map(|n| format!("{n:04}")).collect::<Vec<_>>());

        // 400 KB items: seven fit in 3 MiB, the eighth starts a new transaction.
        let chunks = transaction_chunks((0..10).map(|n| put(n, 400 * 1024)).collect());
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![7, 3]);
        assert!(transaction_chunks(Vec::new()).is_empty());
    }

    #[test]
    fn packing_never_splits_a_group() {
        let groups =
            vec![(0..60).map(|n| put(n, 1)).collect(), (60..120).map(|n| put(n, 1)).collect(), vec![put(120, 1)]];
        let chunks = pack_transactions(groups);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![60, 61]);
        assert_eq!(sks(&chunks[1])[0], "0060");
    }
}
