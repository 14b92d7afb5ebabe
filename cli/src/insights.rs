//! `causeloop insights replay`: the recurrence predictor over a file of past incidents, for
//! benchmarks (`bench/insights/README.md`) and for trying it on one's own history.
//!
//! Reads incidents as JSON lines on stdin (`id`, `service`, `opened_at`, `resolved_at` or null,
//! `fix` or null; other fields are ignored) and replays them in time order through the same code
//! the service runs (`causeloop_insights::replay`, over `WorkspaceInsights`): each incident
//! opens at `opened_at` and is resolved at `resolved_at` with its `fix`. At each resolution it
//! prints `{"id": ..., "p_recur": ...}`, the probability that another incident of the same
//! Pattern opens within `--horizon-days`, from what happened up to that moment only. Openings come
//! before resolutions at the same instant, and ties keep the input order.
//!
//! The Pattern of an incident is its `service` here: the benchmark's label is "another incident
//! of the same service opens within H days". That grouping is this command's choice; the
//! service groups Issues into Patterns with the clustering engine.
//!
//! With `CAUSELOOP_INSIGHTS_TIMING=1`, the time spent in the replay (events through the
//! predictor, not parsing or printing) is reported on stderr.

use anyhow::{bail, Context};
use causeloop_domain::time_fmt::parse_rfc3339;
use causeloop_insights::replay::{self, HistoryIssue};
use causeloop_insights::{Model, Settings};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum InsightsCommand {
    /// Replay incidents (JSON lines on stdin) in time order; print one recurrence probability
    /// per resolution.
    Replay {
        /// The horizon: 7 or 30 days.
        #[arg(long, value_parser = parse_horizon)]
        horizon_days: i64,
        /// The model: outcomes (the service's), rate-7, rate-30, rate-90, rate-365, logistic.
        #[arg(long, default_value = "outcomes", value_parser = parse_model)]
        model: Model,
        /// Recalibrate online (Platt scaling on determined outcomes).
        #[arg(long)]
        calibrate: bool,
    },
}

fn parse_horizon(text: &str) -> Result<i64, String> {
    match text {
        "7" => Ok(7),
        "30" => Ok(30),
        _ => Err("the horizon is 7 or 30 days".into()),
    }
}

fn parse_model(text: &str) -> Result<Model, String> {
    match text {
        "outcomes" => Ok(Model::Outcomes),
        "logistic" => Ok(Model::Logistic),
        _ => match text.strip_prefix("rate-").and_then(|d| d.parse::<u16>().ok()) {
            Some(d @ (7 | 30 | 90 | 365)) => Ok(Model::Rate { half_life_days: d }),
            _ => Err("one of outcomes, rate-7, rate-30, rate-90, rate-365, logistic".into()),
        },
    }
}

pub fn run(command: InsightsCommand) -> anyhow::Result<()> {
    match command {
        InsightsCommand::Replay { horizon_days, model, calibrate } => {
            replay(horizon_days, Settings { model, calibrate })
        }
    }
}

struct Incident {
    id: String,
    pattern: u32,
    opened_at: i64,
    resolved_at: Option<i64>,
    fix: Option<String>,
}

fn millis(value: &Value, field: &str, line: usize) -> anyhow::Result<Option<i64>> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let at = parse_rfc3339(text).with_context(|| format!("line {line}: {field} is not RFC 3339: {text}"))?;
            Ok(Some((at.unix_timestamp_nanos() / 1_000_000) as i64))
        }
        Some(_) => bail!("line {line}: {field} is not a string"),
    }
}

fn read_incidents(input: &str) -> anyhow::Result<Vec<Incident>> {
    let mut patterns: HashMap<String, u32> = HashMap::new();
    let mut incidents = Vec::new();
    for (i, raw) in input.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw).with_context(|| format!("line {line}: not JSON"))?;
        let text = |field: &str| value.get(field).and_then(Value::as_str);
        let Some(id) = text("id") else { bail!("line {line}: no string id") };
        let Some(service) = text("service") else { bail!("line {line}: no string service") };
        let Some(opened_at) = millis(&value, "opened_at", line)? else { bail!("line {line}: no opened_at") };
        let next = u32::try_from(patterns.len())?;
        incidents.push(Incident {
            id: id.to_string(),
            pattern: *patterns.entry(service.to_string()).or_insert(next),
            opened_at,
            resolved_at: millis(&value, "resolved_at", line)?,
            fix: text("fix").map(str::to_string),
        });
    }
    Ok(incidents)
}

fn replay(horizon_days: i64, settings: Settings) -> anyhow::Result<()> {
    let report_timing = std::env::var_os("CAUSELOOP_INSIGHTS_TIMING").is_some_and(|v| v == "1");
    let mut input = String::new();
    io::stdin().lock().read_to_string(&mut input)?;
    let incidents = read_incidents(&input)?;
    let history: Vec<HistoryIssue<'_>> = incidents
        .iter()
        .map(|i| HistoryIssue {
            pattern: i.pattern,
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
            fix: i.fix.as_deref(),
        })
        .collect();

    let started = Instant::now();
    let replayed = replay::replay(settings, &history);
    let elapsed = started.elapsed();

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (i, prediction) in &replayed.predictions {
        let p = prediction.p(horizon_days).expect("7 or 30");
        writeln!(out, "{}", serde_json::json!({ "id": incidents[*i].id, "p_recur": p }))?;
    }
    out.flush()?;
    if report_timing {
        let events = history.len() + replayed.predictions.len();
        eprintln!(
            "replay_seconds={:.6} incidents={} events={} ns_per_incident={:.0}",
            elapsed.as_secs_f64(),
            incidents.len(),
            events,
            elapsed.as_nanos() as f64 / incidents.len().max(1) as f64
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_horizons_parse() {
        assert_eq!(parse_model("rate-90"), Ok(Model::Rate { half_life_days: 90 }));
        assert!(parse_model("rate-8").is_err());
        assert_eq!(parse_horizon("30"), Ok(30));
        assert!(parse_horizon("14").is_err());
    }
}
