//! Outbound webhook delivery: the retry schedule, the signature headers and the life of one
//! delivery (one event to one endpoint), decided without I/O.
//!
//! A delivery is `pending` until an attempt gets a 2xx (`succeeded`) or the schedule runs out
//! (`failed`, kept for inspection and redelivery). Attempts are numbered from 1 for the life of
//! the delivery; a redelivery starts a fresh round of the schedule without renumbering. Before an
//! attempt the worker *claims* the delivery for [`CLAIM_MILLIS`], so that two copies of one queue
//! message (SQS delivers at least once) do not post the same attempt twice; a worker that dies
//! mid-attempt leaves a claim that simply expires.

use crate::events::EventType;
use crate::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use crate::signature::{hmac_sha256, sign_hex};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Waits between attempts: attempt 2 comes about 5 s after attempt 1, ..., attempt 8 about 10 h
/// after attempt 7 — some 28 hours in all before a delivery is given up.
pub const RETRY_DELAYS_SECONDS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// Attempts per round: the first plus one per retry delay.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS_SECONDS.len() as u32 + 1;
/// Each delay is spread by up to ±20 % so that endpoints coming back are not hit in lockstep.
pub const JITTER_FRACTION: f64 = 0.2;
/// The longest wait ever scheduled: SQS's maximum visibility timeout (12 h), through which the
/// worker defers a message instead of sleeping.
pub const MAX_DELAY_SECONDS: u64 = 12 * 3600;
/// A 429 without `Retry-After` waits at least this long, and twice the scheduled delay.
pub const MIN_THROTTLED_DELAY_SECONDS: u64 = 60;
/// An attempt must complete (status line, headers and the excerpt) within this.
pub const ATTEMPT_TIMEOUT_SECONDS: u64 = 15;
/// How long a claimed attempt is protected from duplicate messages: the attempt's timeout plus
/// ample margin for recording its outcome.
pub const CLAIM_MILLIS: u64 = 60_000;
/// The response excerpt kept per attempt.
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;
/// Attempts kept on one delivery record; older ones are summarized by the count.
pub const MAX_RECORDED_ATTEMPTS: usize = 24;
/// An endpoint whose every attempt has failed for this long is disabled.
pub const DISABLE_AFTER_FAILING_MILLIS: u64 = 5 * 24 * 3600 * 1000;
/// Delivery records (with their attempts) expire this long after the event.
pub const DELIVERY_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Why an attempt got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptErrorKind {
    /// No complete answer within [`ATTEMPT_TIMEOUT_SECONDS`].
    Timeout,
    /// The TCP connection failed (refused, reset, unreachable).
    Connect,
    Tls,
    /// The host name did not resolve.
    Dns,
    /// The URL or every address it resolved to is one the SSRF guard refuses; nothing was sent.
    RefusedByPolicy,
}

/// One attempt as recorded and shown at `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    /// RFC 3339, when the request started.
    pub at: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first [`RESPONSE_EXCERPT_BYTES`] of the response body, lossily decoded.
    pub response_excerpt: Option<String>,
    pub error_kind: Option<AttemptErrorKind>,
    /// A short human explanation of `error_kind`, or of a refusal by the SSRF guard.
    pub error: Option<String>,
    /// When the next attempt is due, if there is one.
    pub next_attempt_at: Option<String>,
}

/// What an attempt produced, before it is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Response { status: u16, retry_after_seconds: Option<u64>, excerpt: String },
    Error { kind: AttemptErrorKind, message: String },
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        matches!(self, AttemptResult::Response { status: 200..=299, .. })
    }
}

/// The wait before attempt `attempt + 1` after attempt `attempt` of the current round failed
/// with `result`; `None` when the round is over. `jitter` in [-1, 1] picks the point in the
/// ±20 % band (the caller draws it, keeping this function deterministic).
pub fn retry_delay_seconds(attempt_in_round: u32, result: &AttemptResult, jitter: f64) -> Option<u64> {
    let scheduled = *RETRY_DELAYS_SECONDS.get(attempt_in_round.checked_sub(1)? as usize)?;
    let jittered = (scheduled as f64 * (1.0 + JITTER_FRACTION * jitter.clamp(-1.0, 1.0))).round().max(1.0) as u64;
    let delay = match result {
        AttemptResult::Response { status: 429, retry_after_seconds, .. } => {
            retry_after_seconds.unwrap_or(0).max(jittered.saturating_mul(2)).max(MIN_THROTTLED_DELAY_SECONDS)
        }
        AttemptResult::Response { retry_after_seconds: Some(after), .. } => (*after).max(jittered),
        _ => jittered,
    };
    Some(delay.min(MAX_DELAY_SECONDS))
}

/// `Retry-After` as seconds from `now_unix`: delta-seconds or an HTTP date. Anything else is
/// ignored rather than trusted.
pub fn parse_retry_after(value: &str, now_unix: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now_unix))
}

/// The first [`RESPONSE_EXCERPT_BYTES`] of a body as text, cut on a character boundary.
pub fn response_excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(RESPONSE_EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(cut);
    text.trim_end_matches('\u{fffd}').to_string()
}

/// The signature headers of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `x-causeloop-signature`: hex HMAC-SHA256 of the body under the current secret (the whole
    /// `whsec_...` string is the key, as for inbound webhooks).
    pub causeloop: String,
    /// `x-causeloop-signature-previous`: the same under each secret still inside its rotation
    /// grace period, space-separated; empty when there is none.
    pub causeloop_previous: String,
    /// `webhook-signature` (Standard Webhooks): `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
    /// per valid secret, current first, space-separated.
    pub standard: String,
}

/// The key a Standard Webhooks library derives from a `whsec_` secret: the bytes its base64 body
/// encodes. Secrets issued before the switch to standard base64 used the URL-safe alphabet and
/// decode with that; a secret that is no base64 at all is used as it is.
pub fn standard_webhooks_key(secret: &str) -> Vec<u8> {
    let body = secret.strip_prefix(crate::keys::WEBHOOK_SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(body).or_else(|_| URL_SAFE_NO_PAD.decode(body)).unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// Signs `body` for delivery `message_id` at `timestamp` (Unix seconds) under `secrets`, the
/// current secret first.
pub fn sign_delivery(secrets: &[String], message_id: &str, timestamp: u64, body: &[u8]) -> SignatureHeaders {
    let timestamp = timestamp.to_string();
    let mut standard = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let mac = hmac_sha256(
            &standard_webhooks_key(secret),
            &[message_id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
        );
        standard.push(format!("v1,{}", STANDARD.encode(mac)));
    }
    SignatureHeaders {
        causeloop: secrets.first().map(|secret| sign_hex(secret.as_bytes(), body)).unwrap_or_default(),
        causeloop_previous: secrets.iter().skip(1).map(|s| sign_hex(s.as_bytes(), body)).collect::<Vec<_>>().join(" "),
        standard: standard.join(" "),
    }
}

/// What the worker should do with a delivery's queue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Make attempt number `attempt` now; the delivery is claimed.
    Attempt { attempt: u32 },
    /// Not due yet, or another worker holds the claim: look again after this many seconds.
    Wait { seconds: u64 },
    /// Nothing left to do: the delivery succeeded or failed for good.
    Finished,
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    /// The exact bytes posted on every attempt (the event envelope's JSON), so each attempt and
    /// each redelivery is signed over the same body.
    pub payload: String,
    pub status: DeliveryStatus,
    pub created_at_ms: u64,
    /// Attempts made in the life of the delivery.
    pub attempts_made: u32,
    /// The attempt number that opened the current round of the schedule (1, or the first
    /// attempt after a redelivery).
    pub round_start: u32,
    pub next_attempt_ms: Option<u64>,
    pub claimed_until_ms: Option<u64>,
    /// Newest last; at most [`MAX_RECORDED_ATTEMPTS`].
    pub attempts: Vec<Attempt>,
    /// Why the delivery failed without exhausting its schedule (the endpoint was deleted or
    /// disabled).
    #[serde(default)]
    pub failure_reason: Option<String>,
}

impl Delivery {
    pub fn new(
        webhook_id: WebhookId,
        event_id: EventId,
        workspace_id: WorkspaceId,
        event_type: EventType,
        payload: String,
        created_at_ms: u64,
    ) -> Self {
        Self {
            id: DeliveryId::for_pair(created_at_ms, &event_id, &webhook_id),
            workspace_id,
            webhook_id,
            event_id,
            event_type,
            payload,
            status: DeliveryStatus::Pending,
            created_at_ms,
            attempts_made: 0,
            round_start: 1,
            next_attempt_ms: Some(created_at_ms),
            claimed_until_ms: None,
            attempts: Vec::new(),
            failure_reason: None,
        }
    }

    /// Decides what a queue message for this delivery means at `now_ms`, claiming the delivery
    /// when an attempt is due (the caller must save the claim before sending anything).
    pub fn next_step(&mut self, now_ms: u64) -> Step {
        if self.status != DeliveryStatus::Pending {
            return Step::Finished;
        }
        let wait_until = self.next_attempt_ms.unwrap_or(0).max(self.claimed_until_ms.unwrap_or(0));
        if wait_until > now_ms {
            return Step::Wait { seconds: (wait_until - now_ms).div_ceil(1000) };
        }
        self.claimed_until_ms = Some(now_ms + CLAIM_MILLIS);
        Step::Attempt { attempt: self.attempts_made + 1 }
    }

    /// Records attempt `attempt` (made at `started_ms`, answered at `now_ms`) and schedules the
    /// next one. Returns the wait before it, `None` when the delivery is finished. An attempt
    /// already recorded (a duplicate message that outlived its claim) changes nothing.
    pub fn record_attempt(
        &mut self,
        attempt: u32,
        started_ms: u64,
        now_ms: u64,
        result: AttemptResult,
        jitter: f64,
    ) -> Option<u64> {
        if attempt <= self.attempts_made {
            return self.pending_wait(now_ms);
        }
        let delay = if result.succeeded() {
            None
        } else {
            retry_delay_seconds(attempt + 1 - self.round_start, &result, jitter)
        };
        self.attempts_made = attempt;
        self.claimed_until_ms = None;
        self.next_attempt_ms = delay.map(|seconds| now_ms + seconds * 1000);
        self.status = match (result.succeeded(), delay) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        };
        let (status_code, response_excerpt, error_kind, error) = match result {
            AttemptResult::Response { status, excerpt, .. } => (Some(status), Some(excerpt), None, None),
            AttemptResult::Error { kind, message } => (None, None, Some(kind), Some(message)),
        };
        self.attempts.push(Attempt {
            attempt,
            at: crate::time_fmt::format_unix_millis(started_ms),
            status_code,
            latency_ms: now_ms.saturating_sub(started_ms),
            response_excerpt,
            error_kind,
            error,
            next_attempt_at: self.next_attempt_ms.map(crate::time_fmt::format_unix_millis),
        });
        if self.attempts.len() > MAX_RECORDED_ATTEMPTS {
            self.attempts.remove(0);
        }
        delay
    }

    fn pending_wait(&self, now_ms: u64) -> Option<u64> {
        (self.status == DeliveryStatus::Pending)
            .then(|| self.next_attempt_ms.unwrap_or(now_ms).saturating_sub(now_ms).div_ceil(1000))
    }

    /// Gives up without an attempt: the endpoint is gone or disabled.
    pub fn abandon(&mut self, reason: &str) {
        self.status = DeliveryStatus::Failed;
        self.claimed_until_ms = None;
        self.next_attempt_ms = None;
        self.failure_reason = Some(reason.to_string());
    }

    /// Starts a new round of the schedule now, if the delivery has finished; see [`Redelivery`]
    /// for what a pending one answers.
    pub fn redeliver(&mut self, now_ms: u64) -> Redelivery {
        if self.status == DeliveryStatus::Pending {
            let unclaimed = self.claimed_until_ms.is_none_or(|until| until <= now_ms);
            return if self.attempts_made + 1 == self.round_start && unclaimed {
                Redelivery::AwaitingAttempt
            } else {
                Redelivery::InProgress
            };
        }
        self.status = DeliveryStatus::Pending;
        self.round_start = self.attempts_made + 1;
        self.next_attempt_ms = Some(now_ms);
        self.claimed_until_ms = None;
        self.failure_reason = None;
        Redelivery::Started
    }
}

/// What asking for a redelivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// The delivery had finished; a new round starts now (save it, then queue its task).
    Started,
    /// It is pending and its round has made no attempt yet: its task may have been lost (a
    /// request whose queue send failed after the save), so queue it again. A duplicate task is
    /// harmless: the claim lets one attempt through.
    AwaitingAttempt,
    /// Its round is under way: nothing to do.
    InProgress,
}

/// Consecutive failed attempts after which an endpoint's circuit opens.
pub const CIRCUIT_FAILURES: u32 = 5;
/// How long the circuit stays open the first time; each reopening after a failed probe doubles
/// it, up to [`CIRCUIT_MAX_OPEN_SECONDS`].
pub const CIRCUIT_OPEN_SECONDS: u64 = 60;
pub const CIRCUIT_MAX_OPEN_SECONDS: u64 = 15 * 60;

/// An endpoint's circuit breaker. After [`CIRCUIT_FAILURES`] failed attempts in a row (errors,
/// timeouts, non-2xx) the circuit opens: no attempt reaches the endpoint until it closes, and the
/// deliveries due meanwhile wait without spending their own schedule, so a stalling endpoint
/// stops holding the delivery workers' connections that other endpoints need. When the wait is
/// over, attempts resume; the first failure reopens it for twice as long, a success closes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Circuit {
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Unix milliseconds until which the circuit is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_until_ms: Option<u64>,
    /// Times it opened since the last success (sets the next opening's length).
    #[serde(default)]
    pub openings: u32,
}

impl Circuit {
    /// Seconds until the circuit lets an attempt through, if it is open at `now_ms`.
    pub fn wait_seconds(&self, now_ms: u64) -> Option<u64> {
        let until = self.open_until_ms.filter(|until| *until > now_ms)?;
        Some((until - now_ms).div_ceil(1000).max(1))
    }

    /// Counts an attempt's outcome; whether the circuit changed (and so must be stored).
    pub fn record(&mut self, succeeded: bool, now_ms: u64) -> bool {
        if succeeded {
            let changed = *self != Circuit::default();
            *self = Circuit::default();
            return changed;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        // Reopens on the first failure after it was open (a failed probe), else at the threshold.
        let probe_failed = self.openings > 0 && self.wait_seconds(now_ms).is_none();
        if self.consecutive_failures >= CIRCUIT_FAILURES && (self.openings == 0 || probe_failed) {
            let seconds = (CIRCUIT_OPEN_SECONDS << self.openings.min(8)).min(CIRCUIT_MAX_OPEN_SECONDS);
            self.openings = self.openings.saturating_add(1);
            self.open_until_ms = Some(now_ms + seconds * 1000);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16) -> AttemptResult {
        AttemptResult::Response { status, retry_after_seconds: None, excerpt: String::new() }
    }

    fn delivery() -> Delivery {
        Delivery::new(
            WebhookId::random(1, [1; 10]),
            EventId::random(1, [2; 10]),
            WorkspaceId::random(1, [3; 10]),
            EventType::IssueIngested,
            "{}".into(),
            1_000_000,
        )
    }

    #[test]
    fn the_circuit_opens_after_repeated_failures_and_backs_off_until_a_success() {
        let mut circuit = Circuit::default();
        let start = 1_000_000;
        for n in 1..CIRCUIT_FAILURES {
            assert!(circuit.record(false, start + u64::from(n)));
            assert_eq!(circuit.wait_seconds(start + u64::from(n)), None, "closed below the threshold");
        }
        circuit.record(false, start);
        assert_eq!(circuit.wait_seconds(start), Some(CIRCUIT_OPEN_SECONDS));
        // Failures that finish while it is open (attempts already in flight) do not extend it.
        circuit.record(false, start + 1_000);
        assert_eq!(circuit.open_until_ms, Some(start + CIRCUIT_OPEN_SECONDS * 1000));
        // After the wait, a failed probe reopens it for twice as long, up to the ceiling.
        let mut now = start + CIRCUIT_OPEN_SECONDS * 1000;
        assert_eq!(circuit.wait_seconds(now), None);
        let mut expected = CIRCUIT_OPEN_SECONDS;
        for _ in 0..10 {
            circuit.record(false, now);
            expected = (expected * 2).min(CIRCUIT_MAX_OPEN_SECONDS);
            assert_eq!(circuit.wait_seconds(now), Some(expected));
            now += expected * 1000;
        }
        // One success closes it; a closed circuit's success changes nothing.
        assert!(circuit.record(true, now));
        assert_eq!(circuit, Circuit::default());
        assert!(!circuit.record(true, now));
    }

    #[test]
    fn the_schedule_is_jittered_within_twenty_percent() {
        for (index, scheduled) in RETRY_DELAYS_SECONDS.iter().enumerate() {
            let attempt = index as u32 + 1;
            let low = retry_delay_seconds(attempt, &failure(500), -1.0).unwrap();
            let high = retry_delay_seconds(attempt, &failure(500), 1.0).unwrap();
            assert_eq!(low, (*scheduled as f64 * 0.8).round() as u64);
            assert_eq!(high, (*scheduled as f64 * 1.2).round() as u64);
        }
        assert_eq!(retry_delay_seconds(MAX_ATTEMPTS, &failure(500), 0.0), None, "the round is over");
    }

    #[test]
    fn retry_after_is_honoured_and_429_backs_off_harder() {
        let after = |status, seconds| AttemptResult::Response {
            status,
            retry_after_seconds: Some(seconds),
            excerpt: String::new(),
        };
        assert_eq!(retry_delay_seconds(1, &after(503, 120), 0.0), Some(120));
        assert_eq!(retry_delay_seconds(2, &after(503, 1), 0.0), Some(300), "never sooner than the schedule");
        assert_eq!(retry_delay_seconds(1, &failure(429), 0.0), Some(MIN_THROTTLED_DELAY_SECONDS));
        assert_eq!(retry_delay_seconds(2, &failure(429), 0.0), Some(600));
        assert_eq!(retry_delay_seconds(1, &after(429, 7_200), 0.0), Some(7_200));
        assert_eq!(retry_delay_seconds(1, &after(429, 10 * 86_400), 0.0), Some(MAX_DELAY_SECONDS));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates_only() {
        assert_eq!(parse_retry_after(" 30 ", 0), Some(30));
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_700), Some(77));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800), Some(0), "in the past");
        assert_eq!(parse_retry_after("-5", 0), None);
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn a_delivery_runs_its_schedule_then_fails() {
        let mut d = delivery();
        let mut now = d.created_at_ms;
        for attempt in 1..=MAX_ATTEMPTS {
            assert_eq!(d.next_step(now), Step::Attempt { attempt });
            let delay = d.record_attempt(attempt, now, now + 10, failure(500), 0.0);
            if attempt < MAX_ATTEMPTS {
                let delay = delay.unwrap();
                assert_eq!(delay, RETRY_DELAYS_SECONDS[attempt as usize - 1]);
                assert_eq!(d.next_step(now + 10), Step::Wait { seconds: delay });
                now += 10 + delay * 1000;
            } else {
                assert_eq!(delay, None);
            }
        }
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.attempts.len(), MAX_ATTEMPTS as usize);
        assert_eq!(d.next_step(now + 86_400_000), Step::Finished);
    }

    #[test]
    fn a_claim_keeps_duplicates_out_until_it_expires() {
        let mut d = delivery();
        let now = d.created_at_ms;
        assert_eq!(d.next_step(now), Step::Attempt { attempt: 1 });
        assert_eq!(d.next_step(now + 1), Step::Wait { seconds: CLAIM_MILLIS / 1000 });
        // The claimant died; after the claim expires the same attempt is made again.
        assert_eq!(d.next_step(now + CLAIM_MILLIS), Step::Attempt { attempt: 1 });
    }

    #[test]
    fn a_duplicate_attempt_record_changes_nothing() {
        let mut d = delivery();
        let now = d.created_at_ms;
        d.next_step(now);
        let delay = d.record_attempt(1, now, now + 5, failure(502), 0.0);
        let snapshot = d.clone();
        assert_eq!(d.record_attempt(1, now, now + 6, failure(200), 0.0), delay);
        assert_eq!(d, snapshot);
    }

    #[test]
    fn success_finishes_and_redelivery_starts_a_new_round() {
        let mut d = delivery();
        let now = d.created_at_ms;
        d.next_step(now);
        assert_eq!(d.record_attempt(1, now, now + 5, failure(204), 0.0), None);
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.redeliver(now + 100), Redelivery::Started);
        // Asked again before the round's first attempt: its task is queued again, nothing else.
        let started = d.clone();
        assert_eq!(d.redeliver(now + 101), Redelivery::AwaitingAttempt);
        assert_eq!(d, started);
        assert_eq!(d.next_step(now + 100), Step::Attempt { attempt: 2 });
        assert_eq!(d.redeliver(now + 102), Redelivery::InProgress, "claimed for its attempt");
        // Attempt 2 opens the new round, so its retry waits the first delay again.
        assert_eq!(d.record_attempt(2, now + 100, now + 200, failure(500), 0.0), Some(RETRY_DELAYS_SECONDS[0]));
    }

    #[test]
    fn attempts_kept_are_bounded() {
        let mut d = delivery();
        for round in 0..4 {
            d.abandon("test");
            d.redeliver(round);
            for _ in 0..MAX_ATTEMPTS {
                d.record_attempt(d.attempts_made + 1, 0, 0, failure(500), 0.0);
            }
        }
        assert_eq!(d.attempts.len(), MAX_RECORDED_ATTEMPTS);
        assert_eq!(d.attempts.last().unwrap().attempt, d.attempts_made);
    }

    #[test]
    fn excerpts_are_cut_at_a_kilobyte_on_a_character_boundary() {
        let body = "é".repeat(600);
        let excerpt = response_excerpt(body.as_bytes());
        assert!(excerpt.len() <= RESPONSE_EXCERPT_BYTES);
        assert!(excerpt.chars().all(|c| c == 'é'));
        assert_eq!(response_excerpt(b"ok"), "ok");
    }

    #[test]
    fn standard_webhooks_signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification (webhooks.md, "Signature scheme").
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let body = br#"{"test": 2432232314}"#;
        let headers = sign_delivery(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(headers.standard, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn during_a_rotation_every_valid_secret_signs() {
        let secrets = vec!["whsec_new".to_string(), "whsec_old".to_string()];
        let headers = sign_delivery(&secrets, "dlv_x", 10, b"{}");
        assert_eq!(headers.causeloop, sign_hex(b"whsec_new", b"{}"));
        assert_eq!(headers.causeloop_previous, sign_hex(b"whsec_old", b"{}"));
        assert_eq!(headers.standard.split(' ').count(), 2);
        assert!(headers.standard.split(' ').all(|s| s.starts_with("v1,")));
        let single = sign_delivery(&secrets[..1], "dlv_x", 10, b"{}");
        assert_eq!(single.causeloop_previous, "");
        assert_eq!(single.standard.split(' ').count(), 1);
    }
}
