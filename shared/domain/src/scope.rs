//! API key scopes (`docs/api-contract.md`, "Scopes"). An `:admin` scope implies its `:read`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "connectors:read")]
    ConnectorsRead,
    #[serde(rename = "connectors:admin")]
    ConnectorsAdmin,
    #[serde(rename = "ingest:write")]
    IngestWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:admin")]
    WebhooksAdmin,
    #[serde(rename = "issues:read")]
    IssuesRead,
    #[serde(rename = "issues:write")]
    IssuesWrite,
    /// Creating, listing and revoking the workspace's API keys (`/v1/keys`).
    #[serde(rename = "keys:admin")]
    KeysAdmin,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::ConnectorsRead,
        Scope::ConnectorsAdmin,
        Scope::IngestWrite,
        Scope::WebhooksRead,
        Scope::WebhooksAdmin,
        Scope::IssuesRead,
        Scope::IssuesWrite,
        Scope::KeysAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ConnectorsRead => "connectors:read",
            Scope::ConnectorsAdmin => "connectors:admin",
            Scope::IngestWrite => "ingest:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksAdmin => "webhooks:admin",
            Scope::IssuesRead => "issues:read",
            Scope::IssuesWrite => "issues:write",
            Scope::KeysAdmin => "keys:admin",
        }
    }

    /// The scope that holding `self` also grants, if any.
    fn implied(self) -> Option<Scope> {
        match self {
            Scope::ConnectorsAdmin => Some(Scope::ConnectorsRead),
            Scope::WebhooksAdmin => Some(Scope::WebhooksRead),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`; known scopes: connectors:read, connectors:admin, ingest:write, webhooks:read, webhooks:admin, issues:read, issues:write, keys:admin")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| UnknownScope(s.to_string()))
    }
}

/// The scopes a key was granted, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    pub fn all() -> Self {
        Self::new(Scope::ALL)
    }

    /// Parses a comma-separated list such as `ingest:write,issues:read`.
    pub fn parse_list(list: &str) -> Result<Self, UnknownScope> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    pub fn grants(&self, wanted: Scope) -> bool {
        self.0.iter().any(|&held| held == wanted || held.implied() == Some(wanted))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_read_but_not_the_reverse() {
        let admin = ScopeSet::new([Scope::WebhooksAdmin]);
        assert!(admin.grants(Scope::WebhooksRead));
        assert!(admin.grants(Scope::WebhooksAdmin));
        assert!(!admin.grants(Scope::ConnectorsRead));
        let read = ScopeSet::new([Scope::WebhooksRead]);
        assert!(!read.grants(Scope::WebhooksAdmin));
    }

    #[test]
    fn parses_lists_and_rejects_unknown_names() {
        let set = ScopeSet::parse_list("ingest:write, issues:read,ingest:write").unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![Scope::IngestWrite, Scope::IssuesRead]);
        assert_eq!(ScopeSet::parse_list("issues:delete").unwrap_err().0, "issues:delete");
    }

    #[test]
    fn serde_names_match_the_wire_names() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }
}
