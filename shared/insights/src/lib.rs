//! Insights: how likely a Pattern is to come back after a resolution, which fix to apply, and a
//! triage that puts both together with similar past Issues.
//!
//! Pure, like the domain crate: no I/O, no clock, no randomness. Callers pass every time in
//! (Unix milliseconds taken from the records: opened = `source_created_at`, resolved = the
//! source's resolution time).
//!
//! # State and events
//!
//! A caller keeps one [`PatternInsights`] per Pattern and one [`WorkspaceInsights`] per
//! workspace (both serde-serializable, both bounded; see their documentation for the bounds) and
//! reports two events, in roughly time order:
//!
//! - [`WorkspaceInsights::issue_opened`]: an Issue of the Pattern opened (a new Issue, or a
//!   resolved one that came back: both mean the Pattern recurred);
//! - [`WorkspaceInsights::issue_resolved`]: an Issue of the Pattern was resolved, with its fix
//!   text if any. It returns the [`RecurrencePrediction`] made at that moment.
//!
//! Reads are pure functions of the state: [`WorkspaceInsights::predict`], [`recommend()`] /
//! [`recommended_fix`], and [`triage()`]. Patterns merged by the clustering engine are merged with
//! [`WorkspaceInsights::merge_patterns`].
//!
//! # Wiring it in
//!
//! - Persist one [`WorkspaceInsights`] per workspace (under 64 KB of JSON, tested; it holds at
//!   most [`MAX_WORKSPACE_PENDING`] predictions waiting for their outcome) and one
//!   [`PatternInsights`] per Pattern (under 16 KB, typically 1–3 KB). Every event changes both,
//!   so write them together; the cluster queue's per-workspace FIFO order keeps one writer.
//! - The Pattern key passed with each event is the caller's stable `u64` for the Pattern (the
//!   clustering engine's id); [`WorkspaceInsights::merge_patterns`] follows engine merges.
//! - Times are the records' own (`source_created_at`, the source's resolution time). A late event
//!   is counted; outcomes already learned are not revisited, and a resolution reported after its
//!   7-day horizon has passed is not learned from (`untracked_predictions`).
//! - Whether a reopened Issue counts as the Pattern recurring is the caller's choice: report it
//!   with [`WorkspaceInsights::issue_opened`] to count it.
//!
//! # Recurrence prediction
//!
//! The question: when an Issue of a Pattern is resolved, how likely is it that a new Issue of the
//! Pattern opens within 7 days, and within 30 days? Everything is learned online per workspace
//! from its own history. An outcome (did the Pattern recur within H after that resolution?) is
//! learned only once it is determined — strictly after the resolution time plus H — so no
//! prediction uses anything that happened after it (tested: appending later events never
//! changes an earlier prediction).
//!
//! The model ([`Model::Outcomes`], chosen by measurement on the GCP incident data of
//! `bench/insights`, tuned only on incidents resolved before 2019-07-01):
//!
//! 1. **Workspace rate.** Repeat openings per Pattern per day: decayed repeat openings (every
//!    opening after a Pattern's first) over decayed Pattern-days of exposure, half-life 365 days,
//!    plus one pseudo-event per 30 Pattern-days so a new workspace has an answer.
//! 2. **Pattern rate.** A Gamma prior of one pseudo-event at the workspace rate, updated by the
//!    Pattern's own decayed repeat count and decayed exposure since its first opening (365-day
//!    half-life). Its Gamma–Poisson predictive gives P(an opening within H) =
//!    1 - (β / (β + H))^α. A Pattern seen once gets the workspace rate.
//! 3. **The Pattern's own outcomes.** The Pattern's determined outcomes at horizon H (k of n
//!    resolutions recurred) under a Beta prior of strength 5 centred on step 2's probability:
//!    p = (k + 5·p_rate) / (n + 5).
//!
//! What was measured against it (all online, no leakage, same replay; figures and commands in
//! BENCHMARKS.md, "Recurrence prediction"): the Gamma–Poisson rate alone at half-lives 7, 30,
//! 90 and 365 days ([`Model::Rate`]); an online logistic regression over the logit of the rate
//! prediction, log decayed repeat counts at four half-lives, log days since the last opening,
//! log Issue count and the held-fix share ([`Model::Logistic`]); and online Platt scaling on the
//! workspace's determined outcomes on top of either ([`Settings::calibrate`]). On the tuning
//! period (ROC AUC at 7 / 30 days) the chosen model scored 0.650 / 0.642, the 365-day rate model
//! 0.577 / 0.633, the logistic one 0.563 / 0.593, Platt on the chosen model 0.645 / 0.621, and
//! short half-lives less than chance (7 days: 0.412 / 0.455). On a few hundred determined outcomes
//! the extra parameters of the logistic model and of Platt scaling cost more than they gained:
//! what separates Patterns that come back is mostly how often they came back before. The chosen
//! model is calibrated by construction (a posterior mean), which is why calibration is off by
//! default.
//!
//! On the validation period it did not reach the benchmark's goals (AUC 0.48 at 7 days, 0.57 at
//! 30; Brier skill over the per-service Poisson baseline 0.06 / 0.21; ECE 0.09 / 0.10); that data
//! carries little per-service signal that lasts (BENCHMARKS.md says how that was measured).
//!
//! Cost: a prediction update is a few arithmetic operations on the Pattern's state, the
//! predictions whose outcome became determined, and a scan of the workspace's pending predictions
//! at an opening (at most [`MAX_WORKSPACE_PENDING`]): about 1.6 µs per Issue (opening and
//! resolution) without a fix text; grouping a fix text adds 2–13 µs depending on its length
//! (BENCHMARKS.md).
//!
//! # Fixes
//!
//! Fix texts are grouped by a deterministic token-set method ([`fixes`]), at most
//! [`MAX_FIX_GROUPS`] groups per Pattern. A fix holds when the Pattern does not recur within
//! [`HOLD_DAYS`] of the resolution; failures count when the Pattern recurs, holds only once the
//! 30 days have passed. [`recommend()`] ranks by the lower bound of a Beta posterior centred on
//! the Pattern's hold share, so small samples are not taken at face value.

pub mod fixes;
pub mod model;
pub mod recommend;
pub mod replay;
pub mod state;
pub mod stats;
pub mod triage;

pub use fixes::{fix_key, fix_tokens, FixGroup};
pub use model::Model;
pub use recommend::{recommend, recommended_fix, FixRecommendation};
pub use state::{
    Outcomes, PatternInsights, RecurrencePrediction, Settings, UnfixedStats, WorkspaceInsights, DAY_MS, HOLD_DAYS,
    HORIZONS_DAYS, MAX_FIX_GROUPS, MAX_PATTERN_PENDING, MAX_WORKSPACE_PENDING, RATE_HALF_LIVES_DAYS,
};
pub use triage::{triage, Advice, Assessment, PatternSummary, SimilarIssue, Triage};
