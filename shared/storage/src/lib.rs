//! Storage for Causeloop, behind two narrow ports.
//!
//! * [`table::Table`] — a single-table key-value store with conditional writes, transactions,
//!   one global secondary index, TTL and cursor pagination. It is exactly as much of DynamoDB as
//!   the product uses, so both adapters ([`dynamo`] and [`sqlite`]) implement it faithfully.
//! * [`queue::Queue`] — send, receive, delete and change visibility, as SQS does; FIFO queues keep
//!   one ordered message group per workspace.
//!
//! The repositories in [`repo`] are written once against the ports; no adapter knows about
//! Issues, keys or jobs. Architecture invariant: nothing outside this crate names an AWS or SQLite type.

pub mod clock;
pub mod connectors;
pub mod deliveries;
pub mod engine_state;
pub mod insights;
pub mod patterns;
pub mod queue;
pub mod repo;
pub mod schema;
pub mod table;
pub mod update;

#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod sqlite;
#[cfg(feature = "aws")]
pub mod sqs;

pub use queue::{OutMessage, Queue, QueueName, QueueUrls, Received};
pub use repo::Store;
pub use table::{
    pack_transactions, Condition, Cursor, Index, Item, Key, Page, Query, SkRange, StoreError, Table, Write,
    MAX_BATCH_GET_KEYS,
};

pub use clock::unix_now;
