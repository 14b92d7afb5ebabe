//! Managed connectors, without I/O.
//!
//! A sync of one connector is a walk over pages of a vendor's API. For each step this crate says
//! which request to send ([`Vendor::request`]) and reads the answer ([`Vendor::read`]) into ingest
//! records (the shape of `POST /v1/ingest/events`) and the position of the next page, a
//! [`Cursor`] the caller checkpoints. The caller performs the HTTP (through its SSRF-guarded
//! client), keeps the clock, stores the checkpoint and applies the records; so a crash resumes at
//! the last checkpointed cursor, and every vendor is tested without a network.
//!
//! One module per vendor holds its requests, paging and mapping ([`jira`], [`github`],
//! [`pagerduty`], [`servicenow`], [`datadog`]); [`http`] classifies answers (429 and
//! `Retry-After`, GitHub's rate-limit headers, 401, 5xx) the same way for all of them, and
//! [`oauth`] builds the OAuth 2.0 authorization-code requests.

pub mod datadog;
pub mod github;
pub mod http;
pub mod jira;
pub mod oauth;
pub mod pagerduty;
pub mod servicenow;
pub mod text;

use serde_json::{Map, Value};

pub use http::{Failure, Method, Request, Response};

/// Where a sync is in a vendor's pages; vendor-specific, stored as JSON in the checkpoint.
/// `Value::Null` is the first page.
pub type Cursor = Value;

/// What one sync reads: records updated at or after `since_millis` and before `until_millis`
/// (Unix milliseconds). An incremental sync starts a little before the last watermark (records
/// read twice are recognised by their revision); a backfill starts at the date it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since_millis: i64,
    pub until_millis: i64,
}

/// How requests authenticate, built from the connector's credentials or its OAuth grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic base64(user:password)` (Jira email + API token, ServiceNow user).
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>` (OAuth access tokens, GitHub tokens).
    Bearer(String),
    /// `Authorization: Token token=<key>` (PagerDuty REST API keys).
    PagerDutyToken(String),
    /// `DD-API-KEY` and `DD-APPLICATION-KEY` headers.
    Datadog { api_key: String, application_key: String },
}

/// What a request needs besides the cursor: where the API is, the connector's config (validated
/// against the catalog) and how to authenticate.
#[derive(Debug, Clone)]
pub struct Connection<'a> {
    /// The API's base URL without a trailing slash: the config's `base_url`, or for a Jira OAuth
    /// grant the gateway's `https://api.atlassian.com/ex/jira/<cloudId>`.
    pub api_base: &'a str,
    pub config: &'a Map<String, Value>,
    pub auth: &'a Auth,
}

/// One vendor record as an ingest record, with its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorRecord {
    /// An ingest record (`source` = the connector type, `external_id` = the vendor's stable key,
    /// times in RFC 3339, text already within the ingest limits).
    pub record: Value,
    /// The vendor's last-update time of this record (RFC 3339). With the external id it names
    /// this revision: a revision read twice (the incremental overlap, a resumed page) is applied
    /// once.
    pub updated_at: String,
}

/// One page read.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<VendorRecord>,
    /// Where the next page is; `None` when the window is exhausted.
    pub next: Option<Cursor>,
}

/// A vendor's API, as a sync walks it.
pub trait Vendor: Sync {
    /// The connector type (`jira`, `github`, ...), also the Issues' `source`.
    fn kind(&self) -> &'static str;

    /// How the connector's credentials authenticate (`credentials` as validated by the catalog),
    /// or an error naming what is missing. An OAuth access token, when the connector has a grant,
    /// is passed as `oauth_access_token` and wins.
    fn auth(&self, credentials: &Map<String, Value>, oauth_access_token: Option<&str>) -> Result<Auth, String>;

    /// The request for the page at `cursor` (`Value::Null`: the first page of `window`).
    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure>;

    /// Reads the answer to [`Vendor::request`] for `cursor`: the records and the next cursor, or
    /// why the sync must wait or stop. `now_millis` dates `Retry-After` and reset headers.
    fn read(
        &self,
        connection: &Connection<'_>,
        window: &Window,
        cursor: &Cursor,
        response: &Response,
        now_millis: i64,
    ) -> Result<Page, Failure>;

    /// The vendor's OAuth 2.0 endpoints and habits, if it offers an authorization-code flow.
    fn oauth(&self) -> Option<&'static oauth::OAuthVendor> {
        None
    }
}

/// Every vendor a connector can poll, by connector type.
pub fn vendor(kind: &str) -> Option<&'static dyn Vendor> {
    VENDORS.iter().copied().find(|vendor| vendor.kind() == kind)
}

/// The polling vendors (filled in as each one is built).
pub static VENDORS: &[&dyn Vendor] =
    &[&jira::Jira, &github::GitHub, &pagerduty::PagerDuty, &servicenow::ServiceNow, &datadog::Datadog];
