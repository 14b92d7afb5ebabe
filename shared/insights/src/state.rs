//! The persisted state — one [`PatternInsights`] per Pattern, one [`WorkspaceInsights`] per
//! workspace — and the two events that change it: an Issue of a Pattern opens, an Issue of a
//! Pattern is resolved (with its fix, if any).
//!
//! Times are Unix milliseconds from the records themselves (opened = `source_created_at`,
//! resolved = the source's resolution time), never a clock. Events are expected in roughly time
//! order; one that arrives late is still counted (its rate contribution decayed to the state's
//! time), but an outcome that was already settled is not revisited.

use crate::fixes::{best_group, fix_key, FixGroup};
use crate::model::{self, Logistic, Model, Platt};
use crate::stats::logit;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// The prediction horizons, in days: index 0 and 1 of every per-horizon array.
pub const HORIZONS_DAYS: [i64; 2] = [7, 30];
/// A fix holds when the Pattern does not recur within this many days of the resolution.
pub const HOLD_DAYS: i64 = 30;
/// Half-lives, in days, of the decayed repeat counts kept per Pattern.
pub const RATE_HALF_LIVES_DAYS: [f64; 4] = [7.0, 30.0, 90.0, 365.0];
/// The half-life (index into [`RATE_HALF_LIVES_DAYS`]) of the rate behind [`Model::Outcomes`]
/// and of the workspace rate.
const BASE_RATE: usize = 3;
/// Fix groups kept per Pattern; when a new fix arrives at a full Pattern, the group with the
/// fewest resolutions (the least recently used among equals) gives way.
pub const MAX_FIX_GROUPS: usize = 16;
/// Resolutions per Pattern whose 30-day outcome is still open. Beyond it a resolution counts
/// for the Pattern's totals but its outcome is not followed (`untracked_resolutions`).
pub const MAX_PATTERN_PENDING: usize = 32;
/// Predictions per workspace waiting for their outcome (at most [`HOLD_DAYS`] old). Beyond it a
/// prediction is not learned from (`untracked_predictions`); the oldest are never dropped, so the
/// learners keep seeing outcomes however busy the workspace is.
pub const MAX_WORKSPACE_PENDING: usize = 512;

fn decay(half_life_days: f64, dt_ms: i64) -> f64 {
    (-std::f64::consts::LN_2 * dt_ms as f64 / (half_life_days * DAY_MS as f64)).exp()
}

/// Determined outcomes: of `n` resolutions, `k` were followed by a recurrence within the horizon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub n: u32,
    pub k: u32,
}

impl Outcomes {
    fn add(&mut self, recurred: bool) {
        self.n = self.n.saturating_add(1);
        self.k = self.k.saturating_add(u32::from(recurred));
    }
}

/// Resolutions that applied no fix: they count for recurrence, for no fix group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfixedStats {
    pub resolutions: u32,
    pub held: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingResolution {
    at: i64,
    /// The fix group it applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fix: Option<u32>,
    /// The first opening of the Pattern after `at` and within [`HOLD_DAYS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recurred_at: Option<i64>,
    /// The 7-day outcome was counted.
    #[serde(default)]
    settled_7d: bool,
}

impl PendingResolution {
    fn recurred_within(&self, days: i64) -> bool {
        self.recurred_at.is_some_and(|t| t <= self.at + days * DAY_MS)
    }
}

/// What is known about one Pattern for Insights. Bounded: at most [`MAX_FIX_GROUPS`] fix groups
/// (each with at most [`crate::fixes::MAX_VARIANTS`] texts of at most
/// [`crate::fixes::MAX_TEXT_CHARS`] characters and [`crate::fixes::MAX_FIX_TOKENS`] tokens) and
/// [`MAX_PATTERN_PENDING`] pending resolutions; everything else is a fixed set of numbers.
/// Under 16 KB of JSON at the worst (tested), 1–3 KB typically.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternInsights {
    /// Issues opened (new Issues, and reopenings when the caller reports them).
    pub opened: u64,
    pub resolved: u64,
    /// Openings that came within [`HOLD_DAYS`] after a resolution of the Pattern.
    pub recurrences: u64,
    pub first_opened_at: Option<i64>,
    pub last_opened_at: Option<i64>,
    pub last_resolved_at: Option<i64>,
    /// Decayed counts of openings after the first, at each of [`RATE_HALF_LIVES_DAYS`], as of
    /// `rates_at`.
    rates: [f64; 4],
    rates_at: i64,
    /// Determined outcomes per horizon of [`HORIZONS_DAYS`] (settled resolutions only).
    outcomes: [Outcomes; 2],
    pub unfixed: UnfixedStats,
    pub fixes: Vec<FixGroup>,
    next_fix_id: u32,
    pending: Vec<PendingResolution>,
    /// Resolutions whose outcome was not followed because [`MAX_PATTERN_PENDING`] were pending.
    pub untracked_resolutions: u64,
}

impl PatternInsights {
    /// The fix group to evict when the list is full: fewest resolutions, then least recently
    /// used, then oldest.
    fn weakest_fix(&self) -> usize {
        (0..self.fixes.len())
            .min_by_key(|&i| (self.fixes[i].resolutions, self.fixes[i].last_used, self.fixes[i].id))
            .expect("called on a full list")
    }

    /// Drops a fix group; the pending resolutions that applied it no longer count for any fix.
    fn evict_fix(&mut self, index: usize) {
        let gone = self.fixes.remove(index).id;
        for pending in &mut self.pending {
            if pending.fix == Some(gone) {
                pending.fix = None;
            }
        }
    }

    pub fn new() -> Self {
        Self::default()
    }

    /// Decayed repeat counts at each of [`RATE_HALF_LIVES_DAYS`], as of `at`.
    pub fn repeat_counts(&self, at: i64) -> [f64; 4] {
        let dt = (at - self.rates_at).max(0);
        let mut out = self.rates;
        for (r, hl) in out.iter_mut().zip(RATE_HALF_LIVES_DAYS) {
            *r *= decay(hl, dt);
        }
        out
    }

    /// Decayed time the Pattern has existed, in days, at half-life `hl` (the exposure that
    /// goes with [`PatternInsights::repeat_counts`]).
    fn exposure_days(&self, hl: f64, at: i64) -> f64 {
        match self.first_opened_at {
            Some(first) if at > first => hl / std::f64::consts::LN_2 * (1.0 - decay(hl, at - first)),
            _ => 0.0,
        }
    }

    /// Determined outcomes per horizon as of `now`: the settled ones and the pending ones whose
    /// horizon has passed (strictly: an opening at the horizon's last instant still counts).
    pub fn outcomes_at(&self, now: i64) -> [Outcomes; 2] {
        let mut out = self.outcomes;
        for p in &self.pending {
            if !p.settled_7d && p.at + HORIZONS_DAYS[0] * DAY_MS < now {
                out[0].add(p.recurred_within(HORIZONS_DAYS[0]));
            }
            if p.at + HORIZONS_DAYS[1] * DAY_MS < now {
                out[1].add(p.recurred_within(HORIZONS_DAYS[1]));
            }
        }
        out
    }

    /// Held, failed and pending resolutions of fix group `id` (or of the resolutions without a
    /// fix, `None`) as of `now`. A failure is known at the reopening; a hold only once
    /// [`HOLD_DAYS`] have passed without one.
    pub fn fix_outcomes_at(&self, id: Option<u32>, now: i64) -> (u32, u32, u32) {
        let (mut held, failed) = match id {
            Some(id) => self.fixes.iter().find(|g| g.id == id).map_or((0, 0), |g| (g.held, g.failed)),
            None => (self.unfixed.held, self.unfixed.failed),
        };
        let mut pending = 0;
        for p in self.pending.iter().filter(|p| p.fix == id && p.recurred_at.is_none()) {
            if p.at + HOLD_DAYS * DAY_MS < now {
                held += 1;
            } else {
                pending += 1;
            }
        }
        (held, failed, pending)
    }

    /// Share of the Pattern's determined resolutions that held, as of `now` (`None` before any).
    pub fn hold_share(&self, now: i64) -> Option<f64> {
        let o = self.outcomes_at(now)[1];
        (o.n > 0).then(|| f64::from(o.n - o.k) / f64::from(o.n))
    }

    /// Moves outcomes whose horizon has passed from the pending list into the counts.
    fn settle(&mut self, now: i64) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            if !p.settled_7d && p.at + HORIZONS_DAYS[0] * DAY_MS < now {
                p.settled_7d = true;
                let recurred = p.recurred_within(HORIZONS_DAYS[0]);
                self.outcomes[0].add(recurred);
            }
            if p.at + HORIZONS_DAYS[1] * DAY_MS < now {
                let p = self.pending.remove(i);
                let recurred = p.recurred_within(HORIZONS_DAYS[1]);
                self.outcomes[1].add(recurred);
                if !recurred {
                    // A failure was counted when the Pattern recurred; a hold only now.
                    match p.fix {
                        Some(id) => {
                            if let Some(g) = self.fixes.iter_mut().find(|g| g.id == id) {
                                g.held = g.held.saturating_add(1);
                            }
                        }
                        None => self.unfixed.held = self.unfixed.held.saturating_add(1),
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    fn add_opening(&mut self, at: i64) {
        if self.opened > 0 {
            if at >= self.rates_at {
                let dt = at - self.rates_at;
                for (r, hl) in self.rates.iter_mut().zip(RATE_HALF_LIVES_DAYS) {
                    *r = *r * decay(hl, dt) + 1.0;
                }
                self.rates_at = at;
            } else {
                for (r, hl) in self.rates.iter_mut().zip(RATE_HALF_LIVES_DAYS) {
                    *r += decay(hl, self.rates_at - at);
                }
            }
        } else {
            self.rates_at = at;
        }
        self.opened += 1;
        self.first_opened_at = Some(self.first_opened_at.map_or(at, |f| f.min(at)));
        self.last_opened_at = Some(self.last_opened_at.map_or(at, |l| l.max(at)));
        let mut recurred = false;
        for p in &mut self.pending {
            if !(p.at < at && at <= p.at + HOLD_DAYS * DAY_MS) {
                continue;
            }
            // An opening reported late can be an earlier recurrence than the one recorded.
            if let Some(t) = &mut p.recurred_at {
                *t = (*t).min(at);
                continue;
            }
            p.recurred_at = Some(at);
            recurred = true;
            match p.fix {
                Some(id) => {
                    if let Some(g) = self.fixes.iter_mut().find(|g| g.id == id) {
                        g.failed = g.failed.saturating_add(1);
                    }
                }
                None => self.unfixed.failed = self.unfixed.failed.saturating_add(1),
            }
        }
        if recurred {
            self.recurrences += 1;
        }
    }

    /// Files `fix` under its group (creating one, evicting the weakest if full); `None` when the
    /// resolution had no fix or the text says nothing once normalized.
    fn file_fix(&mut self, fix: Option<&str>, at: i64) -> Option<u32> {
        let text = fix?;
        let key = fix_key(text);
        if key.is_empty() {
            return None;
        }
        if let Some(i) = best_group(&self.fixes, &key) {
            self.fixes[i].add_use(text, at);
            return Some(self.fixes[i].id);
        }
        if self.fixes.len() >= MAX_FIX_GROUPS {
            self.evict_fix(self.weakest_fix());
        }
        let id = self.next_fix_id;
        self.next_fix_id = self.next_fix_id.wrapping_add(1);
        self.fixes.push(FixGroup::new(id, key, text, at));
        Some(id)
    }

    fn add_resolution(&mut self, at: i64, fix: Option<&str>) {
        self.resolved += 1;
        self.last_resolved_at = Some(self.last_resolved_at.map_or(at, |l| l.max(at)));
        let fix = self.file_fix(fix, at);
        if fix.is_none() {
            self.unfixed.resolutions = self.unfixed.resolutions.saturating_add(1);
        }
        if self.pending.len() < MAX_PATTERN_PENDING {
            self.pending.push(PendingResolution { at, fix, recurred_at: None, settled_7d: false });
        } else {
            self.untracked_resolutions += 1;
        }
    }
}

/// A prediction waiting for its outcome, so that the workspace's learners can use it once the
/// outcome is determined (and not before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PendingPrediction {
    pattern: u64,
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recurred_at: Option<i64>,
    /// Logit of each horizon's uncalibrated probability.
    raw: [f32; 2],
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    features: Vec<f32>,
}

/// How a workspace predicts: the model, and whether its output is recalibrated online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub model: Model,
    /// Online Platt scaling on the workspace's own determined outcomes.
    pub calibrate: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { model: Model::Outcomes, calibrate: false }
    }
}

/// What is learned per workspace. Bounded: fixed numbers plus at most
/// [`MAX_WORKSPACE_PENDING`] pending predictions (about 70 bytes of JSON each with the default
/// model, more with [`Model::Logistic`], which keeps each prediction's features): under 64 KB of
/// JSON with the default model, under 128 KB with the logistic one (both tested).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceInsights {
    pub settings: Settings,
    /// Patterns that have had an Issue.
    pub patterns: u64,
    /// Issues opened and resolved, all Patterns.
    pub opened: u64,
    pub resolved: u64,
    /// The latest event time seen.
    pub watermark: i64,
    /// Decayed repeat openings (after each Pattern's first), half-life 365 days, as of `rates_at`.
    repeats: f64,
    /// Decayed Pattern-days of exposure, same half-life.
    exposure_days: f64,
    rates_at: i64,
    /// Determined outcomes per horizon, all Patterns.
    outcomes: [Outcomes; 2],
    calibration: [Platt; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logistic: Option<[Logistic; 2]>,
    /// Oldest first (by resolution time); the first `learned_7d` have had their 7-day outcome
    /// learned, and each leaves once its 30-day outcome is.
    pending: VecDeque<PendingPrediction>,
    learned_7d: u32,
    pub untracked_predictions: u64,
}

impl Default for WorkspaceInsights {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

/// The answer at a resolution: the probability that a new Issue of the Pattern opens within 7
/// and within 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecurrencePrediction {
    pub at: i64,
    pub p_7d: f64,
    pub p_30d: f64,
    /// The Pattern's posterior repeat rate per day (365-day half-life).
    pub rate_per_day: f64,
    /// The workspace's repeat rate per Pattern per day, the prior of the one above.
    pub workspace_rate_per_day: f64,
    /// Determined outcomes of this Pattern behind the estimate, per horizon (0: the estimate
    /// is the rate prior alone).
    pub outcomes_7d: u32,
    pub outcomes_30d: u32,
}

impl RecurrencePrediction {
    /// The probability for a horizon of [`HORIZONS_DAYS`] (7 or 30; anything else is `None`).
    pub fn p(&self, horizon_days: i64) -> Option<f64> {
        match horizon_days {
            7 => Some(self.p_7d),
            30 => Some(self.p_30d),
            _ => None,
        }
    }
}

struct Raw {
    p: [f64; 2],
    rate_per_day: f64,
    workspace_rate: f64,
    outcomes: [Outcomes; 2],
    features: Vec<f32>,
}

impl WorkspaceInsights {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            patterns: 0,
            opened: 0,
            resolved: 0,
            watermark: i64::MIN,
            repeats: 0.0,
            exposure_days: 0.0,
            rates_at: i64::MIN,
            outcomes: [Outcomes::default(); 2],
            calibration: [Platt::default(); 2],
            logistic: matches!(settings.model, Model::Logistic).then(|| [Logistic::new(0), Logistic::new(1)]),
            pending: VecDeque::new(),
            learned_7d: 0,
            untracked_predictions: 0,
        }
    }

    /// The workspace's determined outcomes per horizon (all Patterns).
    pub fn outcomes(&self) -> [Outcomes; 2] {
        self.outcomes
    }

    /// Share of the workspace's determined resolutions after which the Pattern did not recur
    /// within [`HOLD_DAYS`], smoothed by one held and one failed pseudo-resolution.
    pub fn hold_share(&self) -> f64 {
        let o = self.outcomes[1];
        (f64::from(o.n - o.k) + 1.0) / (f64::from(o.n) + 2.0)
    }

    /// Repeat openings per Pattern per day (365-day half-life), with a weak default prior.
    pub fn rate_per_day(&self, at: i64) -> f64 {
        let hl = RATE_HALF_LIVES_DAYS[BASE_RATE];
        let (mut repeats, mut exposure) = (self.repeats, self.exposure_days);
        if self.rates_at != i64::MIN && at > self.rates_at {
            let f = decay(hl, at - self.rates_at);
            repeats *= f;
            exposure = exposure * f + self.patterns as f64 * (1.0 - f) * hl / std::f64::consts::LN_2;
        }
        (repeats + model::RATE_PRIOR_EVENTS) / (exposure + model::RATE_PRIOR_EVENTS * model::DEFAULT_REPEAT_EVERY_DAYS)
    }

    fn advance_rates(&mut self, at: i64) {
        if self.rates_at == i64::MIN {
            self.rates_at = at;
            return;
        }
        if at > self.rates_at {
            let hl = RATE_HALF_LIVES_DAYS[BASE_RATE];
            let f = decay(hl, at - self.rates_at);
            self.repeats *= f;
            self.exposure_days =
                self.exposure_days * f + self.patterns as f64 * (1.0 - f) * hl / std::f64::consts::LN_2;
            self.rates_at = at;
        }
    }

    /// Learns from every pending prediction whose outcome is determined at `now`: its horizon
    /// ended strictly before `now`. Nothing later than `now` is ever used. The queue is in
    /// resolution-time order, so only the predictions learned from are visited.
    fn learn_until(&mut self, now: i64) {
        let horizon = |h: usize| HORIZONS_DAYS[h] * DAY_MS;
        while let Some(front) = self.pending.front() {
            if front.at + horizon(1) >= now {
                break;
            }
            let p = self.pending.pop_front().expect("front");
            if self.learned_7d > 0 {
                self.learned_7d -= 1;
            } else {
                self.learn(&p, 0);
            }
            self.learn(&p, 1);
        }
        while let Some(p) = self.pending.get(self.learned_7d as usize) {
            if p.at + horizon(0) >= now {
                break;
            }
            let p = p.clone();
            self.learn(&p, 0);
            self.learned_7d += 1;
        }
    }

    fn learn(&mut self, p: &PendingPrediction, h: usize) {
        let label = p.recurred_at.is_some_and(|t| t <= p.at + HORIZONS_DAYS[h] * DAY_MS);
        self.outcomes[h].add(label);
        if self.settings.calibrate {
            self.calibration[h].train(f64::from(p.raw[h]), label);
        }
        if let Some(lr) = &mut self.logistic {
            lr[h].train(h, &p.features, label);
        }
    }

    fn raw(&self, pattern: &PatternInsights, at: i64) -> Raw {
        let ws_rate = self.rate_per_day(at);
        let counts = pattern.repeat_counts(at);
        let prior_inv_scale = model::RATE_PRIOR_EVENTS / ws_rate;
        let rate_p = |i: usize| -> [f64; 2] {
            let shape = model::RATE_PRIOR_EVENTS + counts[i];
            let inv_scale = prior_inv_scale + pattern.exposure_days(RATE_HALF_LIVES_DAYS[i], at);
            HORIZONS_DAYS.map(|h| model::gamma_poisson_p(shape, inv_scale, h as f64))
        };
        let base = rate_p(BASE_RATE);
        let base_shape = model::RATE_PRIOR_EVENTS + counts[BASE_RATE];
        let base_inv = prior_inv_scale + pattern.exposure_days(RATE_HALF_LIVES_DAYS[BASE_RATE], at);
        let outcomes = pattern.outcomes_at(at);
        let mut features = Vec::new();
        let p = match self.settings.model {
            Model::Outcomes => {
                [0, 1].map(|h| model::outcome_p(f64::from(outcomes[h].k), f64::from(outcomes[h].n), base[h]))
            }
            Model::Rate { half_life_days } => {
                let i =
                    RATE_HALF_LIVES_DAYS.iter().position(|&hl| hl == f64::from(half_life_days)).unwrap_or(BASE_RATE);
                rate_p(i)
            }
            Model::Logistic => {
                let since = pattern.last_opened_at.map_or(0.0, |l| (at - l).max(0) as f64 / DAY_MS as f64);
                let held = (f64::from(outcomes[1].n - outcomes[1].k) + 1.0) / (f64::from(outcomes[1].n) + 2.0);
                features = model::features(base, counts, since, pattern.opened, held);
                match &self.logistic {
                    Some(lr) => [0, 1].map(|h| lr[h].apply(h, &features)),
                    None => base,
                }
            }
        };
        Raw { p, rate_per_day: base_shape / base_inv, workspace_rate: ws_rate, outcomes, features }
    }

    /// The recurrence prediction for `pattern` at `at`, from the state as it is (pure). At a
    /// resolution, use [`WorkspaceInsights::issue_resolved`], which first learns every outcome
    /// determined by then and returns the same prediction.
    pub fn predict(&self, pattern: &PatternInsights, at: i64) -> RecurrencePrediction {
        self.finish(&self.raw(pattern, at), at)
    }

    fn finish(&self, raw: &Raw, at: i64) -> RecurrencePrediction {
        let p =
            [0, 1].map(|h| if self.settings.calibrate { self.calibration[h].apply(logit(raw.p[h])) } else { raw.p[h] });
        // The two horizons are learned apart; a 30-day probability below the 7-day one is
        // impossible, so it is lifted.
        RecurrencePrediction {
            at,
            p_7d: p[0],
            p_30d: p[1].max(p[0]),
            rate_per_day: raw.rate_per_day,
            workspace_rate_per_day: raw.workspace_rate,
            outcomes_7d: raw.outcomes[0].n,
            outcomes_30d: raw.outcomes[1].n,
        }
    }

    /// An Issue of the Pattern `key` (the caller's stable id for `pattern`) opened at `at`: a new
    /// Issue, or a resolved Issue that came back (the caller decides; both mean the Pattern
    /// recurred). Marks every resolution of the Pattern in the last [`HOLD_DAYS`] as recurred.
    pub fn issue_opened(&mut self, pattern: &mut PatternInsights, key: u64, at: i64) {
        for p in self.pending.iter_mut() {
            if p.pattern == key && p.at < at && at <= p.at + HOLD_DAYS * DAY_MS {
                p.recurred_at = Some(p.recurred_at.map_or(at, |t| t.min(at)));
            }
        }
        self.watermark = self.watermark.max(at);
        self.learn_until(self.watermark);
        self.advance_rates(at);
        if pattern.opened == 0 {
            self.patterns += 1;
        } else if at >= self.rates_at {
            self.repeats += 1.0;
        } else {
            self.repeats += decay(RATE_HALF_LIVES_DAYS[BASE_RATE], self.rates_at - at);
        }
        self.opened += 1;
        pattern.add_opening(at);
        pattern.settle(self.watermark);
    }

    /// An Issue of the Pattern `key` was resolved at `at` with `fix` (if any). Returns the
    /// recurrence prediction made at that moment from what happened up to it, and remembers the
    /// resolution so that its outcome is learned once determined. Events in time order give
    /// exactly that; a resolution reported late is predicted from the state as it is (openings
    /// already reported after `at` included) and its outcome misses those openings.
    pub fn issue_resolved(
        &mut self,
        pattern: &mut PatternInsights,
        key: u64,
        at: i64,
        fix: Option<&str>,
    ) -> RecurrencePrediction {
        self.watermark = self.watermark.max(at);
        self.learn_until(self.watermark);
        self.advance_rates(at);
        pattern.settle(self.watermark);
        let raw = self.raw(pattern, at);
        let prediction = self.finish(&raw, at);
        // A resolution reported after its 7-day horizon has passed cannot be learned from: the
        // openings that decide its outcome were counted before it was known.
        if self.pending.len() < MAX_WORKSPACE_PENDING && at + HORIZONS_DAYS[0] * DAY_MS >= self.watermark {
            let entry = PendingPrediction {
                pattern: key,
                at,
                recurred_at: None,
                raw: raw.p.map(|p| logit(p) as f32),
                features: raw.features,
            };
            // Behind every prediction already learned at 7 days (those resolved earlier).
            let position = self.pending.partition_point(|p| p.at <= at);
            self.pending.insert(position, entry);
        } else {
            self.untracked_predictions += 1;
        }
        self.resolved += 1;
        pattern.add_resolution(at, fix);
        prediction
    }

    /// The Pattern `from` was merged into `into` (the clustering engine merges Patterns):
    /// `into` takes over `from`'s counts, fixes and pending outcomes, and the workspace's pending
    /// predictions of `from` now wait for openings of `into`.
    pub fn merge_patterns(&mut self, into: &mut PatternInsights, into_key: u64, from: PatternInsights, from_key: u64) {
        for p in self.pending.iter_mut().filter(|p| p.pattern == from_key) {
            p.pattern = into_key;
        }
        if from.opened > 0 && into.opened > 0 {
            // Two Patterns became one: the second one's first opening is now a repeat.
            self.patterns = self.patterns.saturating_sub(1);
            self.repeats += 1.0;
        }
        into.absorb(from);
    }
}

impl PatternInsights {
    fn absorb(&mut self, mut from: PatternInsights) {
        let at = self.rates_at.max(from.rates_at);
        let (mine, theirs) = (self.repeat_counts(at), from.repeat_counts(at));
        let both = self.opened > 0 && from.opened > 0;
        for (i, r) in self.rates.iter_mut().enumerate() {
            *r = mine[i] + theirs[i];
            if both {
                // The later first opening becomes a repeat.
                let later = self.first_opened_at.max(from.first_opened_at).unwrap_or(at);
                *r += decay(RATE_HALF_LIVES_DAYS[i], at - later);
            }
        }
        self.rates_at = at;
        self.opened += from.opened;
        self.resolved += from.resolved;
        self.recurrences += from.recurrences;
        let min = |a: Option<i64>, b: Option<i64>| a.into_iter().chain(b).min();
        let max = |a: Option<i64>, b: Option<i64>| a.into_iter().chain(b).max();
        self.first_opened_at = min(self.first_opened_at, from.first_opened_at);
        self.last_opened_at = max(self.last_opened_at, from.last_opened_at);
        self.last_resolved_at = max(self.last_resolved_at, from.last_resolved_at);
        for h in 0..2 {
            self.outcomes[h].n = self.outcomes[h].n.saturating_add(from.outcomes[h].n);
            self.outcomes[h].k = self.outcomes[h].k.saturating_add(from.outcomes[h].k);
        }
        self.unfixed.resolutions = self.unfixed.resolutions.saturating_add(from.unfixed.resolutions);
        self.unfixed.held = self.unfixed.held.saturating_add(from.unfixed.held);
        self.unfixed.failed = self.unfixed.failed.saturating_add(from.unfixed.failed);
        // Fix groups: each of `from`'s joins its most similar group here or comes over with a
        // fresh id (the weakest give way beyond the bound).
        let mut renamed = Vec::new();
        for g in std::mem::take(&mut from.fixes) {
            let target = match best_group(&self.fixes, &g.key) {
                Some(i) => i,
                None => {
                    if self.fixes.len() >= MAX_FIX_GROUPS {
                        let weakest = self.weakest_fix();
                        if self.fixes[weakest].resolutions > g.resolutions {
                            renamed.push((g.id, None));
                            continue;
                        }
                        self.evict_fix(weakest);
                    }
                    let id = self.next_fix_id;
                    self.next_fix_id = self.next_fix_id.wrapping_add(1);
                    self.fixes.push(FixGroup {
                        id,
                        resolutions: 0,
                        held: 0,
                        failed: 0,
                        variants: Vec::new(),
                        ..g.clone()
                    });
                    self.fixes.len() - 1
                }
            };
            let t = &mut self.fixes[target];
            t.resolutions = t.resolutions.saturating_add(g.resolutions);
            t.held = t.held.saturating_add(g.held);
            t.failed = t.failed.saturating_add(g.failed);
            t.last_used = t.last_used.max(g.last_used);
            for v in g.variants {
                if let Some(mine) = t.variants.iter_mut().find(|m| m.text.eq_ignore_ascii_case(&v.text)) {
                    mine.count = mine.count.saturating_add(v.count);
                } else if t.variants.len() < crate::fixes::MAX_VARIANTS {
                    t.variants.push(v);
                }
            }
            renamed.push((g.id, Some(t.id)));
        }
        for mut p in from.pending {
            p.fix = p.fix.and_then(|id| renamed.iter().find(|(old, _)| *old == id).and_then(|(_, new)| *new));
            if self.pending.len() < MAX_PATTERN_PENDING {
                self.pending.push(p);
            } else {
                self.untracked_resolutions += 1;
            }
        }
        self.pending.sort_by_key(|p| p.at);
        self.untracked_resolutions += from.untracked_resolutions;
    }
}
