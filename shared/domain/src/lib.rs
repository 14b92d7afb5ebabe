//! The Causeloop domain: everything that can be decided without I/O.
//!
//! Architecture invariant: this crate performs no I/O, reads no clock and draws no randomness.
//! Callers pass `now` and random bytes in, so every rule here is deterministic and tested directly.

pub mod catalog;
pub mod delivery;
pub mod events;
pub mod ids;
pub mod inbound;
pub mod ingest;
pub mod issue;
pub mod keys;
pub mod limits;
pub mod pattern;
pub mod scope;
pub mod sealed;
pub mod severity;
pub mod signature;
pub mod sync;
pub mod text;
pub mod time_fmt;
pub mod url_guard;
pub mod validation;

pub use ids::{ConnectorId, DeliveryId, IssueId, JobId, KeyId, SyncId, WebhookId, WorkspaceId};
pub use issue::{Issue, IssueStatus};
pub use scope::{Scope, ScopeSet};
pub use severity::Severity;
pub use validation::{FieldError, Problem};
