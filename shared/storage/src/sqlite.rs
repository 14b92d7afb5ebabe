//! The embedded adapter: one SQLite file (WAL mode) holding both the table and the queues, so
//! `causeloop serve` keeps everything — Issues, keys, and queued work — across restarts.
//!
//! SQLite rather than redb: the port needs ordered range scans over two orderings (primary and
//! GSI1) with cursors, conditional multi-item transactions and a durable queue with visibility
//! timeouts. SQL expresses each in one statement, and SQLite's durability is the best-tested there is.

use crate::queue::{OutMessage, Queue, QueueName, Received};
use crate::table::{Condition, Cursor, Index, IndexKey, Item, Key, Page, Query, SkRange, StoreError, Table, Write};
use crate::unix_now;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// FIFO deduplication window, as SQS.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    expires_at INTEGER,
    v INTEGER NOT NULL,
    d TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    grp TEXT,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, dead, id);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
";

fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

fn now_millis() -> i64 {
    crate::clock::now_millis() as i64
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and removes items whose TTL has passed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA).map_err(backend)?;
        conn.execute("DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1", [unix_now()])
            .map_err(backend)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` on the connection off the async runtime.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Backend("sqlite connection poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|err| StoreError::Backend(err.to_string()))?
    }
}

fn read_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let gsi1pk: Option<String> = row.get(2)?;
    let gsi1sk: Option<String> = row.get(3)?;
    Ok(Item {
        pk: row.get(0)?,
        sk: row.get(1)?,
        gsi1: gsi1pk.zip(gsi1sk).map(|(pk, sk)| IndexKey { pk, sk }),
        expires_at: row.get(4)?,
        version: row.get::<_, i64>(5)? as u64,
        data: row.get(6)?,
    })
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, expires_at, v, d";

fn current_version(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<Option<u64>, StoreError> {
    tx.query_row(
        "SELECT v FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
        params![pk, sk, unix_now()],
        |row| row.get::<_, i64>(0),
    )
    .optional()
    .map(|v| v.map(|v| v as u64))
    .map_err(backend)
}

fn check(tx: &Transaction<'_>, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
    let holds = match condition {
        Condition::Always => true,
        Condition::NotExists => current_version(tx, pk, sk)?.is_none(),
        Condition::Exists => current_version(tx, pk, sk)?.is_some(),
        Condition::Version(expected) => current_version(tx, pk, sk)? == Some(expected),
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::ConditionFailed)
    }
}

fn apply(tx: &Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::Put { item, condition } => {
            check(tx, &item.pk, &item.sk, *condition)?;
            tx.execute(
                "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, expires_at, v, d) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    item.pk,
                    item.sk,
                    item.gsi1.as_ref().map(|k| &k.pk),
                    item.gsi1.as_ref().map(|k| &k.sk),
                    item.expires_at,
                    item.version as i64,
                    item.data
                ],
            )
            .map_err(backend)?;
        }
        Write::Delete { pk, sk, condition } => {
            check(tx, pk, sk, *condition)?;
            tx.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", params![pk, sk]).map_err(backend)?;
        }
        Write::Check { pk, sk, condition } => check(tx, pk, sk, *condition)?,
    }
    Ok(())
}

#[async_trait]
impl Table for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"),
                params![pk, sk],
                read_item,
            )
            .optional()
            .map(|item| item.filter(|item| !item.is_expired(unix_now())))
            .map_err(backend)
        })
        .await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let keys = keys.to_vec();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"))
                .map_err(backend)?;
            let now = unix_now();
            keys.iter()
                .map(|(pk, sk)| {
                    statement
                        .query_row(params![pk, sk], read_item)
                        .optional()
                        .map(|item| item.filter(|item| !item.is_expired(now)))
                        .map_err(backend)
                })
                .collect()
        })
        .await
    }

    async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.transact(vec![write]).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            for write in &writes {
                apply(&tx, write)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let position = query.cursor.as_ref().map(|cursor| cursor.position_for(query)).transpose()?;
        let query = query.clone();
        self.with_conn(move |conn| {
            let (pk_col, sk_col) = match query.index {
                Index::Primary => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let order = if query.descending { "DESC" } else { "ASC" };
            let after = if query.descending { "<" } else { ">" };
            let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?1");
            let mut args: Vec<String> = vec![query.pk.clone()];
            match &query.sk {
                SkRange::All => {}
                SkRange::Prefix(prefix) => {
                    // Prefix as a range, so the index serves it: [prefix, prefix + U+10FFFF).
                    args.push(prefix.clone());
                    args.push(format!("{prefix}\u{10FFFF}"));
                    sql.push_str(&format!(" AND {sk_col} >= ?{} AND {sk_col} < ?{}", args.len() - 1, args.len()));
                }
                SkRange::AtLeast(bound) => {
                    args.push(bound.clone());
                    sql.push_str(&format!(" AND {sk_col} >= ?{}", args.len()));
                }
            }
            if let Some(position) = &position {
                match (&query.index, &position.index) {
                    (Index::Gsi1, Some(index)) => {
                        args.extend([index.sk.clone(), position.pk.clone(), position.sk.clone()]);
                        let n = args.len();
                        sql.push_str(&format!(" AND (gsi1sk, pk, sk) {after} (?{}, ?{}, ?{})", n - 2, n - 1, n));
                    }
                    _ => {
                        args.push(position.sk.clone());
                        sql.push_str(&format!(" AND sk {after} ?{}", args.len()));
                    }
                }
            }
            match query.index {
                Index::Primary => sql.push_str(&format!(" ORDER BY sk {order}")),
                Index::Gsi1 => sql.push_str(&format!(" ORDER BY gsi1sk {order}, pk {order}, sk {order}")),
            }
            sql.push_str(&format!(" LIMIT {}", query.limit.max(1)));
            let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
            let rows: Vec<Item> = statement
                .query_map(rusqlite::params_from_iter(args.iter()), read_item)
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let next = (rows.len() >= query.limit.max(1))
                .then(|| Cursor::after_item(rows.last().expect("non-empty"), query.index));
            let now = unix_now();
            Ok(Page { items: rows.into_iter().filter(|item| !item.is_expired(now)).collect(), next })
        })
        .await
    }
}

fn random_receipt() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[async_trait]
impl Queue for SqliteStore {
    async fn send_batch(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let now = now_millis();
            let tx = conn.transaction().map_err(backend)?;
            tx.execute("DELETE FROM queue_dedup WHERE expires_at <= ?1", [now]).map_err(backend)?;
            for message in &messages {
                if queue.is_fifo() && message.group.is_none() {
                    return Err(StoreError::Backend("FIFO messages need a message group".into()));
                }
                if let Some(dedup_id) = message.dedup_id.as_ref().filter(|_| queue.is_fifo()) {
                    let inserted = tx
                        .execute(
                            "INSERT OR IGNORE INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?1, ?2, ?3)",
                            params![queue.as_str(), dedup_id, now + DEDUP_WINDOW_MS],
                        )
                        .map_err(backend)?;
                    if inserted == 0 {
                        continue;
                    }
                }
                let delay_ms = i64::from(message.delay_seconds.min(900)) * 1000;
                tx.execute(
                    "INSERT INTO queue_messages (queue, body, grp, visible_at) VALUES (?1, ?2, ?3, ?4)",
                    params![queue.as_str(), message.body, message.group, now + delay_ms],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility_seconds: u32,
    ) -> Result<Vec<Received>, StoreError> {
        self.with_conn(move |conn| {
            let now = now_millis();
            let tx = conn.transaction().map_err(backend)?;
            let candidates: Vec<(i64, String, Option<String>, i64, u32)> = {
                let mut statement = tx
                    .prepare_cached(
                        "SELECT id, body, grp, visible_at, receive_count FROM queue_messages WHERE queue = ?1 AND dead = 0 ORDER BY id",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map([queue.as_str()], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let mut blocked_groups = std::collections::HashSet::new();
            let mut received = Vec::new();
            for (id, body, group, visible_at, receive_count) in candidates {
                if received.len() >= max {
                    break;
                }
                // FIFO: a group is delivered strictly in order, so an invisible (in-flight)
                // message holds back every later message of its group.
                if queue.is_fifo() {
                    let group = group.clone().unwrap_or_default();
                    if blocked_groups.contains(&group) {
                        continue;
                    }
                    if visible_at > now {
                        blocked_groups.insert(group);
                        continue;
                    }
                } else if visible_at > now {
                    continue;
                }
                if receive_count >= queue.max_receives() {
                    tx.execute("UPDATE queue_messages SET dead = 1, receipt = NULL WHERE id = ?1", [id]).map_err(backend)?;
                    continue;
                }
                let receipt = random_receipt();
                tx.execute(
                    "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?2, receipt = ?3 WHERE id = ?1",
                    params![id, now + i64::from(visibility_seconds) * 1000, receipt],
                )
                .map_err(backend)?;
                received.push(Received { message_id: id.to_string(), receipt, body, receive_count: receive_count + 1 });
            }
            tx.commit().map_err(backend)?;
            Ok(received)
        })
        .await
    }

    async fn delete(&self, _queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        let receipt = receipt.to_string();
        self.with_conn(move |conn| {
            conn.execute("DELETE FROM queue_messages WHERE receipt = ?1", [receipt]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn change_visibility(
        &self,
        _queue: QueueName,
        receipt: &str,
        visibility_seconds: u32,
    ) -> Result<(), StoreError> {
        let receipt = receipt.to_string();
        self.with_conn(move |conn| {
            conn.execute(
                "UPDATE queue_messages SET visible_at = ?2 WHERE receipt = ?1",
                params![receipt, now_millis() + i64::from(visibility_seconds) * 1000],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn dead_letter_count(&self, queue: QueueName) -> Result<usize, StoreError> {
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND dead = 1",
                [queue.as_str()],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(backend)
        })
        .await
    }
}
