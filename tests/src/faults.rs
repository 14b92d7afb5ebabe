//! Fault injection around a real adapter: a crash after N successful writes, to show that a
//! retried request completes without losing or duplicating anything. Reads and the writes before
//! the crash go to the real store.

use async_trait::async_trait;
use causeloop_storage::queue::{OutMessage, Queue, QueueName, Received};
use causeloop_storage::{Key, Page, Query, StoreError, Table, Write};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct CrashAfterWrites {
    inner: Arc<dyn Table>,
    remaining: AtomicIsize,
    throttling: AtomicBool,
}

impl CrashAfterWrites {
    pub fn new(inner: Arc<dyn Table>, writes_before_crash: isize) -> Self {
        Self { inner, remaining: AtomicIsize::new(writes_before_crash), throttling: AtomicBool::new(false) }
    }

    /// Lets `writes` more writes through, then answers every write as DynamoDB does when it
    /// throttles (`ProvisionedThroughputExceeded`, mapped to `StoreError::Throttled`).
    pub fn throttle_after(&self, writes: isize) {
        self.throttling.store(true, Ordering::SeqCst);
        self.remaining.store(writes, Ordering::SeqCst);
    }

    /// Ends the outage: every later write goes through.
    pub fn heal(&self) {
        self.throttling.store(false, Ordering::SeqCst);
        self.remaining.store(isize::MAX, Ordering::SeqCst);
    }

    fn take_write(&self) -> Result<(), StoreError> {
        if self.remaining.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(if self.throttling.load(Ordering::SeqCst) {
                StoreError::Throttled
            } else {
                StoreError::Backend("injected crash".into())
            })
        }
    }
}

#[async_trait]
impl Table for CrashAfterWrites {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<causeloop_storage::Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<causeloop_storage::Item>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.take_write()?;
        self.inner.write(write).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.take_write()?;
        self.inner.transact(writes).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
}

/// Another writer that wins every race once: before the next transaction, it rewrites the
/// transaction's first conditional put target as found (bumping its version), so the
/// transaction fails its condition as if a concurrent request had written that item. The
/// interference is sequential, so it also runs on moto, whose TransactWriteItems rolls back by
/// restoring a snapshot of the whole table and would lose truly concurrent writes.
pub struct LoseNextTransactionRace {
    inner: Arc<dyn Table>,
    armed: AtomicBool,
}

impl LoseNextTransactionRace {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self { inner, armed: AtomicBool::new(false) }
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Whether the armed race was run (and so the transaction after it lost).
    pub fn fired(&self) -> bool {
        !self.armed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Table for LoseNextTransactionRace {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<causeloop_storage::Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<causeloop_storage::Item>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.inner.write(write).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let target = writes.iter().find_map(|write| match write {
            Write::Put { item, condition: causeloop_storage::Condition::Version(_) } => Some(item.clone()),
            _ => None,
        });
        if let Some(target) = target {
            if self.armed.swap(false, Ordering::SeqCst) {
                if let Some(stored) = self.inner.get(&target.pk, &target.sk).await? {
                    let bumped = stored.clone().with_version(stored.version + 1);
                    let condition = causeloop_storage::Condition::Version(stored.version);
                    self.inner.write(Write::Put { item: bumped, condition }).await?;
                }
            }
        }
        self.inner.transact(writes).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
}

/// A queue whose sends fail on demand, around a real one: the write a request made before its
/// send stays, the send is lost, as when SQS is unreachable for a moment. A failure is armed for
/// the next send to one queue that carries a given text, so that the background workers' own
/// sends do not take it.
pub struct FailingSends {
    inner: Arc<dyn Queue>,
    armed: Mutex<Option<(QueueName, String)>>,
}

impl FailingSends {
    pub fn new(inner: Arc<dyn Queue>) -> Self {
        Self { inner, armed: Mutex::new(None) }
    }

    /// Fails the next send to `queue` with a message containing `text`; later sends go through.
    pub fn fail_next(&self, queue: QueueName, text: &str) {
        *self.armed.lock().unwrap() = Some((queue, text.to_string()));
    }

    /// Whether the armed failure has happened.
    pub fn fired(&self) -> bool {
        self.armed.lock().unwrap().is_none()
    }
}

#[async_trait]
impl Queue for FailingSends {
    async fn send_batch(&self, queue: QueueName, messages: Vec<OutMessage>) -> Result<(), StoreError> {
        {
            let mut armed = self.armed.lock().unwrap();
            let hit = armed.as_ref().is_some_and(|(target, text)| {
                *target == queue && messages.iter().any(|message| message.body.contains(text.as_str()))
            });
            if hit {
                *armed = None;
                return Err(StoreError::Backend("injected queue send failure".into()));
            }
        }
        self.inner.send_batch(queue, messages).await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility_seconds: u32,
    ) -> Result<Vec<Received>, StoreError> {
        self.inner.receive(queue, max, visibility_seconds).await
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
