//! Severity `p1` (worst) … `p5`, and the table that maps the words tools use onto it.
//!
//! | p-level | words |
//! |---|---|
//! | p1 | p1, 1, sev0, sev1, critical, crit, fatal, emergency, emerg, alert, disaster, urgent, page |
//! | p2 | p2, 2, sev2, high, error, err, major, severe |
//! | p3 | p3, 3, sev3, medium, moderate, warning, warn, average |
//! | p4 | p4, 4, sev4, low, minor, notice |
//! | p5 | p5, 5, sev5, info, informational, information, debug, trace, none, ok |
//!
//! Matching ignores case, surrounding spaces and a `sev-`/`sev ` spelling. Absent severity is `p3`.
//! `sev0` is the "worse than SEV1" level many incident processes and Azure Monitor use. Azure
//! counts `Sev0`..`Sev4` one step off this table's `sevN` = `pN`; the alerts family reads Azure's
//! words on Azure's own scale before falling back to this table.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    P1,
    P2,
    #[default]
    P3,
    P4,
    P5,
}

const TABLE: &[(Severity, &[&str])] = &[
    (
        Severity::P1,
        &[
            "p1",
            "1",
            "sev0",
            "sev1",
            "critical",
            "crit",
            "fatal",
            "emergency",
            "emerg",
            "alert",
            "disaster",
            "urgent",
            "page",
        ],
    ),
    (Severity::P2, &["p2", "2", "sev2", "high", "error", "err", "major", "severe"]),
    (Severity::P3, &["p3", "3", "sev3", "medium", "moderate", "warning", "warn", "average"]),
    (Severity::P4, &["p4", "4", "sev4", "low", "minor", "notice"]),
    (Severity::P5, &["p5", "5", "sev5", "info", "informational", "information", "debug", "trace", "none", "ok"]),
];

impl Severity {
    /// Maps a tool's word onto a p-level; `None` for words outside the table.
    pub fn from_word(word: &str) -> Option<Severity> {
        let normalized: String =
            word.trim().to_ascii_lowercase().chars().filter(|c| !matches!(c, '-' | ' ' | '_')).collect();
        TABLE.iter().find(|(_, words)| words.contains(&normalized.as_str())).map(|(level, _)| *level)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P1 => "p1",
            Severity::P2 => "p2",
            Severity::P3 => "p3",
            Severity::P4 => "p4",
            Severity::P5 => "p5",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_documented_words() {
        let cases = [
            ("P1", Severity::P1),
            ("critical", Severity::P1),
            ("SEV-1", Severity::P1),
            ("Sev0", Severity::P1),
            ("high", Severity::P2),
            ("Error", Severity::P2),
            ("medium", Severity::P3),
            ("warning", Severity::P3),
            ("low", Severity::P4),
            (" info ", Severity::P5),
            ("p5", Severity::P5),
        ];
        for (word, level) in cases {
            assert_eq!(Severity::from_word(word), Some(level), "{word}");
        }
        assert_eq!(Severity::from_word("purple"), None);
        assert_eq!(Severity::from_word(""), None);
    }

    #[test]
    fn orders_worst_first() {
        assert!(Severity::P1 < Severity::P5);
        assert_eq!(serde_json::to_string(&Severity::P2).unwrap(), "\"p2\"");
    }
}
