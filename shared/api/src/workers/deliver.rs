//! The delivery worker: fans events out to the endpoints subscribed to them and makes each
//! delivery's attempts, on the delivery queue (`docs/webhooks.md`, "Outbound webhooks").
//!
//! Two kinds of message share the queue:
//! * an **event envelope** (from [`crate::events::emit`]): for every enabled outbound endpoint of
//!   the workspace subscribed to its type (and, if the endpoint names a connector, only for that
//!   connector's events) a delivery record is created — its id derives from the (event, endpoint)
//!   pair, so a fan-out retried after a crash finds the records it already wrote — and a
//!   [`DeliveryTask`] is queued for each new one;
//! * a **delivery task**: the record decides. A finished delivery acks the message; one not due
//!   yet (or claimed by another worker) postpones the message by changing its visibility; a due
//!   one is claimed, posted, recorded, and then either finished or postponed until the next
//!   attempt of the schedule. No Lambda ever sleeps: waits are SQS visibility timeouts.
//!
//! One endpoint cannot hold the workers for the others: an endpoint whose last attempt failed
//! (a timeout, an error) gets at most [`SUSPECT_ENDPOINT_CONCURRENCY`] attempt in flight per
//! worker, and after [`causeloop_domain::delivery::CIRCUIT_FAILURES`] failures in a row its
//! circuit opens: its due deliveries wait in the queue, unclaimed and without spending their
//! retries, until the circuit lets a probe through (`Circuit`).
//!
//! Nothing is lost: a crash before the record is saved leaves the message to come back (SQS
//! redelivers what was not deleted); a crash after the post and before the record means the
//! receiver may see that attempt twice, with the same `webhook-id`, which is what receivers
//! deduplicate on. Store errors (throttling) fail the message, which comes back later.

use super::WorkMessage;
use crate::messages::{DeliveryQueueMessage, DeliveryTask};
use crate::outbound::{OutboundClient, OutboundRequest};
use crate::secrets::open_valid_secrets;
use crate::state::AppState;
use causeloop_domain::delivery::{sign_delivery, Circuit, Delivery, Step, DISABLE_AFTER_FAILING_MILLIS};
use causeloop_domain::events::{EventEnvelope, EventType};
use causeloop_domain::time_fmt::{format_unix_millis, parse_unix_millis};
use causeloop_domain::WebhookId;
use causeloop_storage::connectors::{Webhook, WebhookDirection};
use causeloop_storage::repo::Versioned;
use causeloop_storage::update::update_with_retries;
use causeloop_storage::{QueueName, StoreError};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Messages of one batch handled at once; each may hold a connection for up to 15 s.
pub const CONCURRENT_MESSAGES: usize = 10;
/// Attempts one worker makes at once to an endpoint whose last attempt failed: a stalling or
/// failing endpoint holds at most this many of the worker's connections until its circuit opens
/// (then none), so the other endpoints' deliveries keep flowing.
pub const SUSPECT_ENDPOINT_CONCURRENCY: usize = 1;
/// When a suspect endpoint already has its attempts in flight, its next task comes back after this.
pub const SUSPECT_ENDPOINT_RETRY_SECONDS: u64 = 5;

/// Milliseconds since the Unix epoch; tests move it forward to cross the schedule's hours.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// What becomes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled for good: delete it.
    Done,
    /// Bring it back after this many seconds (its visibility is changed, then it is reported failed).
    After(u64),
    /// Something went wrong; it comes back after the queue's visibility timeout.
    Failed,
}

/// One per process (per Lambda container), holding the HTTP client.
#[derive(Clone)]
pub struct DeliverWorker {
    state: AppState,
    client: OutboundClient,
    clock: Clock,
    /// Attempts in flight per suspect endpoint, in this worker.
    in_flight: Arc<Mutex<HashMap<WebhookId, usize>>>,
}

/// One attempt in flight to a suspect endpoint; counted until dropped.
struct InFlight {
    counts: Arc<Mutex<HashMap<WebhookId, usize>>>,
    webhook: WebhookId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("in-flight counts");
        if let Some(count) = counts.get_mut(&self.webhook) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.webhook);
            }
        }
    }
}

impl DeliverWorker {
    pub fn new(state: AppState, client: OutboundClient) -> Self {
        Self {
            state,
            client,
            clock: Arc::new(causeloop_storage::clock::now_millis),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for an attempt to a suspect endpoint, if it has one free in this worker.
    fn suspect_slot(&self, webhook: &WebhookId) -> Option<InFlight> {
        let mut counts = self.in_flight.lock().expect("in-flight counts");
        let count = counts.entry(webhook.clone()).or_default();
        if *count >= SUSPECT_ENDPOINT_CONCURRENCY {
            return None;
        }
        *count += 1;
        Some(InFlight { counts: self.in_flight.clone(), webhook: webhook.clone() })
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Handles a batch and returns the ids of messages not to delete: failed ones, and postponed
    /// ones whose visibility now says when they come back.
    pub async fn handle_batch(&self, messages: Vec<WorkMessage>) -> Vec<String> {
        let outcomes: Vec<(WorkMessage, Disposition)> = stream::iter(messages)
            .map(|message| async move {
                let disposition = self.handle(&message).await;
                (message, disposition)
            })
            .buffer_unordered(CONCURRENT_MESSAGES)
            .collect()
            .await;
        let mut keep = Vec::new();
        for (message, disposition) in outcomes {
            match disposition {
                Disposition::Done => {}
                Disposition::Failed => keep.push(message.id),
                Disposition::After(seconds) => {
                    let seconds = u32::try_from(seconds).unwrap_or(u32::MAX).max(1);
                    if let Err(err) =
                        self.state.queue.change_visibility(QueueName::Delivery, &message.receipt, seconds).await
                    {
                        // It comes back after the default visibility instead, and is postponed again.
                        tracing::warn!(message_id = %message.id, error = %err, "cannot postpone a delivery message");
                    }
                    keep.push(message.id);
                }
            }
        }
        keep
    }

    /// Handles one message.
    pub async fn handle(&self, message: &WorkMessage) -> Disposition {
        let parsed = match DeliveryQueueMessage::parse(&message.body) {
            Ok(parsed) => parsed,
            Err(err) => {
                // Retrying cannot fix it; the DLQ keeps it for inspection.
                tracing::error!(message_id = %message.id, error = %err, "unreadable delivery-queue message");
                return Disposition::Failed;
            }
        };
        let result = match parsed {
            DeliveryQueueMessage::Event(envelope) => self.fan_out(&envelope, &message.body).await,
            DeliveryQueueMessage::Task(task) => self.attempt(&task).await,
        };
        result.unwrap_or_else(|err| {
            tracing::warn!(message_id = %message.id, error = %err, "delivery message failed; it will come back");
            Disposition::Failed
        })
    }

    /// Creates the event's deliveries and queues a task for each one that still needs its
    /// first attempt.
    async fn fan_out(&self, envelope: &EventEnvelope, payload: &str) -> Result<Disposition, StoreError> {
        let store = &self.state.store;
        let created_ms = parse_unix_millis(&envelope.created_at).unwrap_or_else(|| (self.clock)());
        let mut tasks = Vec::new();
        for webhook in store.all_webhooks(&envelope.workspace_id).await? {
            if !subscribed(&webhook, envelope) {
                continue;
            }
            let delivery = Delivery::new(
                webhook.id.clone(),
                envelope.id.clone(),
                envelope.workspace_id.clone(),
                envelope.event_type,
                payload.to_string(),
                created_ms,
            );
            let (stored, _) = store.create_delivery(&delivery).await?;
            // A record left by a crashed fan-out still needs its task; one that has made
            // attempts has (or had) its own message.
            if stored.value.attempts_made == 0 && stored.value.claimed_until_ms.is_none() {
                tasks.push(task_for(&stored.value).to_message());
            }
        }
        self.state.queue.send_batch(QueueName::Delivery, tasks).await?;
        Ok(Disposition::Done)
    }

    async fn attempt(&self, task: &DeliveryTask) -> Result<Disposition, StoreError> {
        let store = &self.state.store;
        // The endpoint first: while its circuit is open, or while a suspect endpoint already has
        // its attempts in flight here, the task waits without claiming the delivery or spending
        // an attempt of its schedule.
        let webhook = store.webhook(&task.workspace_id, &task.webhook_id).await?.map(|stored| stored.value);
        // A disabled endpoint's deliveries are abandoned at once, circuit or not.
        let circuit_wait = webhook
            .as_ref()
            .filter(|webhook| webhook.enabled)
            .and_then(|webhook| webhook.circuit.wait_seconds((self.clock)()));
        let suspect = webhook
            .as_ref()
            .filter(|webhook| webhook.failing_since.is_some() || webhook.circuit.consecutive_failures > 0);
        let _slot = match suspect.map(|webhook| self.suspect_slot(&webhook.id)) {
            Some(None) => return Ok(Disposition::After(SUSPECT_ENDPOINT_RETRY_SECONDS)),
            Some(slot) => slot,
            None => None,
        };
        let claim = update_with_retries(|| async move {
            let Some(Versioned { value: mut delivery, version }) =
                store.delivery(&task.workspace_id, &task.webhook_id, &task.delivery_id).await?
            else {
                tracing::warn!(delivery_id = %task.delivery_id, "no record for a delivery task (expired?); dropping it");
                return Ok(Err(Disposition::Done));
            };
            let attempt = match delivery.next_step((self.clock)()) {
                Step::Finished => return Ok(Err(Disposition::Done)),
                Step::Wait { seconds } => return Ok(Err(Disposition::After(seconds))),
                // Due, but the endpoint's circuit is open: wait for it, unclaimed.
                Step::Attempt { attempt } => match circuit_wait {
                    Some(wait) => return Ok(Err(Disposition::After(wait))),
                    None => attempt,
                },
            };
            let claimed = store.save_delivery(&delivery, version).await?;
            Ok(Ok((delivery, claimed, attempt)))
        })
        .await;
        match claim {
            Ok(Ok((delivery, claimed, attempt))) => self.make_attempt(webhook, delivery, claimed, attempt).await,
            Ok(Err(disposition)) => Ok(disposition),
            // Other workers keep claiming it: one of them makes the attempt.
            Err(StoreError::Contended) => Ok(Disposition::Failed),
            Err(err) => Err(err),
        }
    }

    /// Posts attempt `attempt` of the claimed `delivery` (stored at `version`) to `webhook` (as
    /// read before the claim) and records it.
    async fn make_attempt(
        &self,
        webhook: Option<Webhook>,
        delivery: Delivery,
        version: u64,
        attempt: u32,
    ) -> Result<Disposition, StoreError> {
        let store = &self.state.store;
        let webhook = match webhook {
            Some(value) if value.enabled || delivery.event_type == EventType::Ping => value,
            Some(_) => return self.abandon(delivery, version, "endpoint_disabled").await,
            None => return self.abandon(delivery, version, "endpoint_deleted").await,
        };
        let secret_box = match self.state.settings.master_key().await {
            Ok(ring) => ring,
            Err(err) => {
                tracing::error!(error = ?err, "the master keyring cannot be used; deliveries cannot be signed");
                return Ok(Disposition::Failed);
            }
        };
        let started_ms = (self.clock)();
        let secrets = match open_valid_secrets(secret_box, &webhook, &format_unix_millis(started_ms)) {
            Ok(secrets) if !secrets.is_empty() => secrets,
            _ => {
                tracing::error!(webhook_id = %webhook.id, "no signing secret of the endpoint opens; not sending unsigned");
                return Ok(Disposition::Failed);
            }
        };
        let timestamp = started_ms / 1000;
        let signatures = sign_delivery(&secrets, delivery.id.as_str(), timestamp, delivery.payload.as_bytes());
        let request = OutboundRequest {
            url: &webhook.url,
            body: &delivery.payload,
            event_type: delivery.event_type.as_str(),
            delivery_id: delivery.id.as_str(),
            attempt,
            timestamp,
            signatures: &signatures,
        };
        let clock_start = std::time::Instant::now();
        let result = self.client.post(&request).await;
        let finished_ms = started_ms + clock_start.elapsed().as_millis() as u64;
        let succeeded = result.succeeded();
        let jitter = rand::random::<f64>() * 2.0 - 1.0;

        // The first attempt writes on top of the claim; when someone wrote the record after it
        // (a redelivery request, or a duplicate whose claim outlived ours), the attempt is
        // recorded on top of what is there now.
        let (workspace, webhook_id, delivery_id) =
            (delivery.workspace_id.clone(), delivery.webhook_id.clone(), delivery.id.clone());
        let (ids, result) = (&(workspace, webhook_id, delivery_id), &result);
        let mut read = Some((delivery, version));
        let recorded = update_with_retries(|| {
            let claimed = read.take();
            async move {
                let (mut delivery, version) = match claimed {
                    Some(claimed) => claimed,
                    None => match store.delivery(&ids.0, &ids.1, &ids.2).await? {
                        Some(current) => (current.value, current.version),
                        None => return Ok(None),
                    },
                };
                let delay = delivery.record_attempt(attempt, started_ms, finished_ms, result.clone(), jitter);
                store.save_delivery(&delivery, version).await?;
                Ok(Some(delay))
            }
        })
        .await?;
        let Some(delay) = recorded else {
            return Ok(Disposition::Done);
        };
        self.track_endpoint_health(&webhook, succeeded, finished_ms).await;
        tracing::info!(
            delivery_id = %ids.2, webhook_id = %webhook.id, attempt, succeeded,
            next_in_seconds = delay, "delivery attempt"
        );
        Ok(delay.map_or(Disposition::Done, Disposition::After))
    }

    async fn abandon(&self, mut delivery: Delivery, version: u64, reason: &str) -> Result<Disposition, StoreError> {
        delivery.abandon(reason);
        match self.state.store.save_delivery(&delivery, version).await {
            Ok(_) => Ok(Disposition::Done),
            Err(StoreError::ConditionFailed) => Ok(Disposition::After(1)),
            Err(err) => Err(err),
        }
    }

    /// Keeps `failing_since` and the circuit breaker on the endpoint, and disables an endpoint
    /// that has failed everything for five days. Best effort: a lost race is settled by the next
    /// attempt. A success on a healthy endpoint writes nothing.
    async fn track_endpoint_health(&self, webhook: &Webhook, succeeded: bool, now_ms: u64) {
        let store = &self.state.store;
        if succeeded && webhook.failing_since.is_none() && webhook.circuit == Circuit::default() {
            return;
        }
        let updated = update_with_retries(|| async move {
            let Some(Versioned { value: mut current, version }) =
                store.webhook(&webhook.workspace_id, &webhook.id).await?
            else {
                return Ok(());
            };
            let now = format_unix_millis(now_ms);
            let was_open = current.circuit.wait_seconds(now_ms).is_some();
            current.circuit.record(succeeded, now_ms);
            if !was_open && current.circuit.wait_seconds(now_ms).is_some() {
                tracing::warn!(webhook_id = %current.id, failures = current.circuit.consecutive_failures, "endpoint circuit opened");
            }
            if succeeded {
                current.failing_since = None;
            } else {
                let since = current.failing_since.get_or_insert_with(|| now.clone()).clone();
                if current.enabled && failing_for_ms(&since, now_ms) >= DISABLE_AFTER_FAILING_MILLIS {
                    current.enabled = false;
                    current.disabled_reason =
                        Some(format!("every delivery attempt since {since} failed; disabled after 5 days"));
                    tracing::warn!(webhook_id = %current.id, since = %since, "disabling a failing endpoint");
                }
            }
            current.updated_at = now;
            store.save_webhook(&current, version).await.map(drop)
        })
        .await;
        if let Err(err) = updated {
            tracing::warn!(webhook_id = %webhook.id, error = %err, "cannot update endpoint health");
        }
    }
}

fn failing_for_ms(since: &str, now_ms: u64) -> u64 {
    now_ms.saturating_sub(parse_unix_millis(since).unwrap_or(now_ms))
}

/// Whether `webhook` receives `envelope`: an enabled outbound endpoint subscribed to the type,
/// and, when it names a connector, only that connector's events.
pub fn subscribed(webhook: &Webhook, envelope: &EventEnvelope) -> bool {
    webhook.direction == WebhookDirection::Outbound
        && webhook.enabled
        && webhook.event_types.iter().any(|subscribed| subscribed == envelope.event_type.as_str())
        && webhook
            .connector_id
            .as_ref()
            .is_none_or(|connector| envelope.connector_id.as_deref() == Some(connector.as_str()))
}

pub fn task_for(delivery: &Delivery) -> DeliveryTask {
    DeliveryTask {
        workspace_id: delivery.workspace_id.clone(),
        webhook_id: delivery.webhook_id.clone(),
        delivery_id: delivery.id.clone(),
    }
}
