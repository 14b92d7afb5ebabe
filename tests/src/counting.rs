//! Counting wrappers around real adapters: how many reads, writes and queue sends a request
//! costs. The figures in BENCHMARKS.md come from (and are checked by) tests/tests/costs.rs.

use async_trait::async_trait;
use causeloop_storage::{Item, Key, OutMessage, Page, Query, Queue, QueueName, Received, StoreError, Table, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default, Debug)]
pub struct Counts {
    pub reads: AtomicUsize,
    /// `get_many` calls, each one round trip per 100 keys (BatchGetItem).
    pub batch_reads: AtomicUsize,
    pub queries: AtomicUsize,
    pub writes: AtomicUsize,
    pub send_calls: AtomicUsize,
    pub messages_sent: AtomicUsize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub reads: usize,
    pub batch_reads: usize,
    pub queries: usize,
    pub writes: usize,
    pub send_calls: usize,
    pub messages_sent: usize,
}

impl Counts {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            reads: self.reads.load(Ordering::SeqCst),
            batch_reads: self.batch_reads.load(Ordering::SeqCst),
            queries: self.queries.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            send_calls: self.send_calls.load(Ordering::SeqCst),
            messages_sent: self.messages_sent.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, before: Snapshot) -> Snapshot {
        Snapshot {
            reads: self.reads - before.reads,
            batch_reads: self.batch_reads - before.batch_reads,
            queries: self.queries - before.queries,
            writes: self.writes - before.writes,
            send_calls: self.send_calls - before.send_calls,
            messages_sent: self.messages_sent - before.messages_sent,
        }
    }
}

pub struct CountingTable {
    pub inner: Arc<dyn Table>,
    pub counts: Arc<Counts>,
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(pk, sk).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.counts.batch_reads.fetch_add(keys.len().div_ceil(causeloop_storage::MAX_BATCH_GET_KEYS), Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(write).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.transact(writes).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.counts.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query).await
    }
}

/// Counts only sends: receives and deletes belong to the workers, not to the request.
pub struct CountingQueue {
    pub inner: Arc<dyn Queue>,
    pub counts: Arc<Counts>,
}

#[async_trait]
impl Queue for CountingQueue {
    async fn send_batch(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), StoreError> {
        self.counts.send_calls.fetch_add(1, Ordering::SeqCst);
        self.counts.messages_sent.fetch_add(messages.len(), Ordering::SeqCst);
        self.inner.send_batch(queue, messages).await
    }
    async fn receive(&self, queue: QueueName, max: usize, visibility: u32) -> Result<Vec<Received>, StoreError> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), StoreError> {
        self.inner.delete(queue, receipt).await
    }
    async fn change_visibility(&self, queue: QueueName, receipt: &str, seconds: u32) -> Result<(), StoreError> {
        self.inner.change_visibility(queue, receipt, seconds).await
    }
    async fn dead_letter_count(&self, queue: QueueName) -> Result<usize, StoreError> {
        self.inner.dead_letter_count(queue).await
    }
}
