//! The cluster worker over many Issues, through the real worker code on the embedded SQLite
//! store: worker time, engine state size and store traffic (with DynamoDB capacity units, as
//! the same calls would cost on DynamoDB).
//!
//! Reads records (one per line) from stdin, stores each as an Issue of one workspace, then feeds
//! the cluster messages to `ClusterWorker::handle_batch` in batches of ten (the SQS batch size).
//! Only the worker is timed. Run it with the benchmark's synthetic records:
//!
//! ```text
//! cargo build --release -p causeloop-tests --example cluster_worker_bench
//! ./scripts/bench-patterns.sh --no-drain3 --datasets HDFS --runs 1 --synthetic 100000 \
//!     --state-cmd "$CARGO_TARGET_DIR/release/examples/cluster_worker_bench"
//! ```
//!
//! With `MOTO_ENDPOINT` set (a moto server, as `scripts/moto.sh` starts one), the store is
//! DynamoDB + SQS served by it instead, so every port call is a real HTTP round trip:
//!
//! ```text
//! cut -d, -f2- bench/patterns/loghub2k/HDFS/HDFS_2k.log_structured.csv | tail -n +2 | \
//!     MOTO_ENDPOINT=http://127.0.0.1:5000 target/release/examples/cluster_worker_bench
//! ```

use async_trait::async_trait;
use causeloop_api::ingest::upsert_issue;
use causeloop_api::messages::ClusterRequest;
use causeloop_api::state::{AppState, Settings};
use causeloop_api::workers::cluster::ClusterWorker;
use causeloop_api::workers::WorkMessage;
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::WorkspaceId;
use causeloop_storage::patterns::{PatternFilter, PatternSort};
use causeloop_storage::{Item, Key, Page, Query, StoreError, Table, Write};
use causeloop_tests::Backend;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Calls and DynamoDB capacity units of the table traffic passing through.
#[derive(Default)]
struct Traffic {
    reads: AtomicU64,
    read_units: AtomicU64,
    queries: AtomicU64,
    writes: AtomicU64,
    /// Write calls: single writes and transactions (one round trip each).
    write_calls: AtomicU64,
    write_units: AtomicU64,
}

struct MeteredTable {
    inner: Arc<dyn Table>,
    traffic: Arc<Traffic>,
}

fn item_bytes(item: &Item) -> u64 {
    (item.pk.len() + item.sk.len() + item.data.len() + 40) as u64
}

impl MeteredTable {
    /// DynamoDB: 1 WCU per KB written (2 inside a transaction); deletes and checks count 1.
    fn count_write(&self, write: &Write, transactional: bool) {
        let units = match write {
            Write::Put { item, .. } => item_bytes(item).div_ceil(1024),
            Write::Delete { .. } | Write::Check { .. } => 1,
        };
        self.traffic.writes.fetch_add(1, Ordering::Relaxed);
        self.traffic.write_units.fetch_add(units * if transactional { 2 } else { 1 }, Ordering::Relaxed);
    }
}

#[async_trait]
impl Table for MeteredTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let item = self.inner.get(pk, sk).await?;
        self.traffic.reads.fetch_add(1, Ordering::Relaxed);
        // Strongly consistent: 1 RCU per 4 KB (a miss costs one too).
        let units = item.as_ref().map_or(1, |item| item_bytes(item).div_ceil(4096));
        self.traffic.read_units.fetch_add(units, Ordering::Relaxed);
        Ok(item)
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        self.traffic
            .reads
            .fetch_add(keys.len().div_ceil(causeloop_storage::MAX_BATCH_GET_KEYS) as u64, Ordering::Relaxed);
        let units: u64 = items.iter().map(|item| item.as_ref().map_or(1, |item| item_bytes(item).div_ceil(4096))).sum();
        self.traffic.read_units.fetch_add(units, Ordering::Relaxed);
        Ok(items)
    }
    async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.traffic.write_calls.fetch_add(1, Ordering::Relaxed);
        self.count_write(&write, false);
        self.inner.write(write).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.traffic.write_calls.fetch_add(1, Ordering::Relaxed);
        for write in &writes {
            self.count_write(write, true);
        }
        self.inner.transact(writes).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.traffic.queries.fetch_add(1, Ordering::Relaxed);
        let bytes: u64 = page.items.iter().map(item_bytes).sum();
        self.traffic.read_units.fetch_add(bytes.div_ceil(4096).max(1), Ordering::Relaxed);
        Ok(page)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("stdin");
    let records: Vec<&str> = input.lines().filter(|line| !line.trim().is_empty()).collect();
    let (stores, backend) = match causeloop_tests::moto_endpoint() {
        Some(_) => (causeloop_tests::stores(Backend::Moto).await.expect("moto"), "DynamoDB + SQS on moto"),
        None => (causeloop_tests::stores(Backend::Sqlite).await.expect("sqlite"), "SQLite"),
    };
    let traffic = Arc::new(Traffic::default());
    let table = Arc::new(MeteredTable { inner: stores.table.clone(), traffic: traffic.clone() });
    let state = AppState::new(table, stores.queue.clone(), Settings::default());
    let workspace = WorkspaceId::random(1, [7; 10]);

    let started = Instant::now();
    let mut messages = Vec::with_capacity(records.len());
    for (n, line) in records.iter().enumerate() {
        let title: String = line.chars().take(1_000).collect();
        let record = normalize_record(&serde_json::json!({
            "source": "bench", "external_id": format!("r{n}"), "title": title,
            "service": format!("svc-{}", n % 7),
        }))
        .expect("valid record");
        let now = causeloop_storage::clock::now_rfc3339();
        let (issue, _) = upsert_issue(&state.store, &workspace, &record, &format!("e{n}"), &now).await.expect("upsert");
        let request = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id, job_id: None };
        messages.push(WorkMessage {
            id: n.to_string(),
            body: serde_json::to_string(&request).expect("serializes"),
            receive_count: 1,
            receipt: String::new(),
        });
    }
    let ingest_seconds = started.elapsed().as_secs_f64();
    let before = (
        traffic.reads.load(Ordering::Relaxed),
        traffic.read_units.load(Ordering::Relaxed),
        traffic.queries.load(Ordering::Relaxed),
        traffic.writes.load(Ordering::Relaxed),
        traffic.write_units.load(Ordering::Relaxed),
        traffic.write_calls.load(Ordering::Relaxed),
    );

    let worker = ClusterWorker::new();
    let started = Instant::now();
    for batch in messages.chunks(10) {
        let failed = worker.handle_batch(&state, batch.to_vec()).await;
        assert!(failed.is_empty(), "{failed:?}");
    }
    let worker_seconds = started.elapsed().as_secs_f64();

    let n = records.len() as f64;
    let reads = traffic.reads.load(Ordering::Relaxed) - before.0;
    let read_units = traffic.read_units.load(Ordering::Relaxed) - before.1;
    let queries = traffic.queries.load(Ordering::Relaxed) - before.2;
    let writes = traffic.writes.load(Ordering::Relaxed) - before.3;
    let write_units = traffic.write_units.load(Ordering::Relaxed) - before.4;
    let write_calls = traffic.write_calls.load(Ordering::Relaxed) - before.5;
    let stored = state.store.engine_state(&workspace).await.expect("read").expect("state saved");
    let engine = causeloop_patterns::Engine::from_bytes(&stored.bytes).expect("decodes");
    let mut records_listed = 0;
    let mut cursor = None;
    loop {
        let (page, next) = state
            .store
            .list_patterns(&workspace, &PatternFilter::default(), PatternSort::LastSeen, 200, cursor)
            .await
            .expect("list");
        records_listed += page.len();
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!(
        "- store: {backend}\n\
         - {} Issues stored in {ingest_seconds:.1} s (not timed below)\n\
         - worker: {worker_seconds:.2} s for {} Issues ({:.0} Issues/s, {:.0} µs per Issue), batches of 10\n\
         - engine state: {} bytes ({:.1} KiB) in {} store item(s) (version {}); {} live templates, {} aliases\n\
         - pattern records: {records_listed}\n\
         - table traffic per Issue: {:.2} reads, {:.3} queries, {:.2} writes; \
           DynamoDB units per Issue: {:.2} RCU, {:.2} WCU\n\
         - table round trips per Issue: {:.2} (reads, queries, single writes and transactions)",
        records.len(),
        records.len(),
        n / worker_seconds,
        worker_seconds / n * 1e6,
        stored.bytes.len(),
        stored.bytes.len() as f64 / 1024.0,
        1 + stored.version.chunk_count(),
        stored.version.version,
        engine.len(),
        engine.alias_count(),
        reads as f64 / n,
        queries as f64 / n,
        writes as f64 / n,
        read_units as f64 / n,
        write_units as f64 / n,
        (reads + queries + write_calls) as f64 / n,
    );
}
