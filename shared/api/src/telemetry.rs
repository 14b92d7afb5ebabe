//! JSON logs through `tracing`, one object per line. Level from `RUST_LOG`, else
//! `AWS_LAMBDA_LOG_LEVEL` (what the template's `LoggingConfig` sets), else `info`.
//!
//! The filter is a [`Targets`] list (`info`, `warn,causeloop_api=debug`, ...), not an
//! `EnvFilter`: the span and field-value directives of the latter need a regex engine, which was
//! a measurable part of each Lambda binary for a feature no deployment uses.

use crate::config::Config;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init(config: &Config) {
    let filter = filter_from(config.rust_log.clone(), config.lambda_log_level.clone());
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry().with(logs).with(filter).try_init();
}

/// `RUST_LOG` if it parses, else Lambda's application log level (whose `FATAL` is `error` here),
/// else `info`. As with `EnvFilter`, a bare word that is no level names a target.
fn filter_from(rust_log: Option<String>, lambda_level: Option<String>) -> Targets {
    let lambda = lambda_level.map(|level| match level.to_ascii_lowercase().as_str() {
        "fatal" => "error".to_string(),
        other => other.to_string(),
    });
    [rust_log, lambda]
        .into_iter()
        .flatten()
        .find_map(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(filter: &Targets, target: &str) -> Vec<Level> {
        [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE]
            .into_iter()
            .filter(|level| filter.would_enable(target, level))
            .collect()
    }

    #[test]
    fn the_lambda_log_level_applies_unless_rust_log_is_set() {
        let filter = filter_from(None, Some("WARN".into()));
        assert_eq!(enabled(&filter, "causeloop_api"), [Level::ERROR, Level::WARN]);
        let filter = filter_from(Some("debug".into()), Some("WARN".into()));
        assert_eq!(enabled(&filter, "causeloop_api").len(), 4);
        let filter = filter_from(None, Some("FATAL".into()));
        assert_eq!(enabled(&filter, "causeloop_api"), [Level::ERROR]);
    }

    #[test]
    fn per_target_directives_and_the_info_default() {
        let filter = filter_from(Some("warn,causeloop_api=debug".into()), None);
        assert_eq!(enabled(&filter, "causeloop_api::ingest").len(), 4);
        assert_eq!(enabled(&filter, "aws_smithy_runtime"), [Level::ERROR, Level::WARN]);
        let filter = filter_from(Some("a=b=c".into()), None);
        assert_eq!(enabled(&filter, "anything"), [Level::ERROR, Level::WARN, Level::INFO]);
        assert_eq!(enabled(&filter_from(None, None), "anything"), [Level::ERROR, Level::WARN, Level::INFO]);
    }
}
