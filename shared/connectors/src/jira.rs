//! Jira Cloud: the issues a JQL query selects, read with the enhanced search.
//!
//! Facts relied on, from Atlassian's documentation:
//! - `GET /rest/api/3/search/jql` takes `jql`, `nextPageToken`, `maxResults` and `fields`
//!   (a comma-separated list; every field read is asked for, as the enhanced search's default
//!   set is smaller than the old search's `*navigable`), and answers `issues`,
//!   `nextPageToken` and `isLast`; the old `GET /rest/api/3/search` (`startAt`) is deprecated
//!   and removed. The last page may omit `nextPageToken` altogether (JRACLOUD-92184).
//!   <https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/>
//! - JQL absolute dates (`"yyyy-MM-dd HH:mm"`) have minute precision and are read in the time
//!   zone of the user the request runs as; REST answers give times like
//!   `2024-01-15T10:30:00.000+0000`, in that user's offset.
//!   <https://support.atlassian.com/jira-software-cloud/docs/jql-fields/>
//! - Descriptions and comments are Atlassian Document Format: a tree of block nodes
//!   (`paragraph`, `heading`, `bulletList`/`orderedList` of `listItem`, `codeBlock`,
//!   `blockquote`, ...) holding inline nodes (`text`, `hardBreak`, `mention`, `emoji`,
//!   `inlineCard`, ...). <https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/>
//! - OAuth 2.0 (3LO): the user consents at `https://auth.atlassian.com/authorize` with
//!   `audience=api.atlassian.com` and `prompt=consent`, the code is exchanged at
//!   `https://auth.atlassian.com/oauth/token` with the client secret, `offline_access` yields a
//!   (rotating) refresh token, and the site's `cloudId` comes from
//!   `https://api.atlassian.com/oauth/token/accessible-resources`; requests then go to
//!   `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`.
//!   <https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/>
//! - 3LO does not accept PKCE: the documented flow has no `code_challenge`/`code_verifier`,
//!   and Atlassian's developer community confirms it is not offered
//!   (<https://community.developer.atlassian.com/t/oauth-2-0-with-proof-key-for-code-exchange-pkce/80173>,
//!   ECO-283). So [`OAUTH`] has `pkce: false` and relies on the client secret.

use crate::http::{self, list_answer, Request, Response};
use crate::oauth::OAuthVendor;
use crate::{text, Auth, Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use causeloop_domain::limits::{MAX_EXTERNAL_ID_CHARS, MAX_URL_CHARS};
use causeloop_domain::time_fmt::{format_unix_millis, parse_unix_millis};
use serde_json::{json, Map, Value};

pub struct Jira;

pub static OAUTH: OAuthVendor = OAuthVendor {
    authorize_url: "https://auth.atlassian.com/authorize",
    token_url: "https://auth.atlassian.com/oauth/token",
    // Reading issues needs only `read:jira-work`; no user data is read.
    scopes: &["read:jira-work", "offline_access"],
    authorize_params: &[("audience", "api.atlassian.com"), ("prompt", "consent")],
    pkce: false,
};

const KIND: &str = "jira";
const SEARCH_PATH: &str = "/rest/api/3/search/jql";
/// Every field the mapping reads, asked for by name.
const FIELDS: &str = "summary,description,priority,status,created,updated,resolutiondate,resolution,components,comment";
const PAGE_SIZE: u32 = 100;
/// The query when the connector's config has none.
const DEFAULT_JQL: &str = "order by updated";
/// How far the JQL time bounds are pushed outwards. JQL dates are read in the Jira user's time
/// zone (UTC−12 to UTC+14) at minute precision, which the connector cannot know; a day's margin
/// covers every zone, the records outside the window are dropped after reading, and the overlap
/// with neighbouring windows is recognised by the records' revisions.
const JQL_MARGIN_MS: i64 = 24 * 60 * 60 * 1000;
/// ADF nests lists and quotes; deeper trees are not walked further (serde_json refuses depths
/// beyond 128 anyway).
const MAX_ADF_DEPTH: usize = 64;

impl Vendor for Jira {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn auth(&self, credentials: &Map<String, Value>, oauth_access_token: Option<&str>) -> Result<Auth, String> {
        if let Some(token) = oauth_access_token.filter(|token| !token.is_empty()) {
            return Ok(Auth::Bearer(token.to_string()));
        }
        let field = |name: &str| {
            credentials
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("jira credentials need `{name}` (or an OAuth grant)"))
        };
        Ok(Auth::Basic { user: field("email")?, password: field("api_token")? })
    }

    fn request(&self, connection: &Connection<'_>, window: &Window, cursor: &Cursor) -> Result<Request, Failure> {
        let mut query = vec![
            ("jql", window_jql(user_jql(connection.config)?, window)),
            ("fields", FIELDS.to_string()),
            ("maxResults", PAGE_SIZE.to_string()),
        ];
        if let Some(token) = page_token(cursor)? {
            query.push(("nextPageToken", token.to_string()));
        }
        let url = http::url(connection.api_base, SEARCH_PATH, &query);
        Ok(Request::get(url, connection.auth, &[("accept", "application/json")]))
    }

    fn read(
        &self,
        connection: &Connection<'_>,
        window: &Window,
        cursor: &Cursor,
        response: &Response,
        now_millis: i64,
    ) -> Result<Page, Failure> {
        let (body, issues) = list_answer(KIND, response, now_millis, "issues")?;
        let mut records = Vec::with_capacity(issues.len());
        for issue in &issues {
            let record = issue_record(connection, issue)?;
            let updated_ms = parse_unix_millis(&record.updated_at).map_or(0, |ms| ms as i64);
            // The JQL bounds were widened (see JQL_MARGIN_MS); neighbouring windows read the rest.
            if (window.since_millis..window.until_millis).contains(&updated_ms) {
                records.push(record);
            }
        }
        let token = body.get("nextPageToken").and_then(Value::as_str).filter(|token| !token.is_empty());
        let is_last = body.get("isLast").and_then(Value::as_bool).unwrap_or(token.is_none());
        let next = match token {
            Some(token) if !is_last => {
                if page_token(cursor)? == Some(token) {
                    return Err(Failure::Permanent("jira answered the same nextPageToken twice".into()));
                }
                Some(json!({ "nextPageToken": token }))
            }
            _ => None,
        };
        Ok(Page { records, next })
    }

    fn oauth(&self) -> Option<&'static OAuthVendor> {
        Some(&OAUTH)
    }
}

/// The cursor's page token; `None` on the first page.
fn page_token(cursor: &Cursor) -> Result<Option<&str>, Failure> {
    match cursor {
        Value::Null => Ok(None),
        Value::Object(position) => match position.get("nextPageToken").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => Ok(Some(token)),
            _ => Err(Failure::Permanent("jira cursor without a nextPageToken".into())),
        },
        _ => Err(Failure::Permanent("jira cursor is not an object".into())),
    }
}

/// The configured JQL, or [`DEFAULT_JQL`].
fn user_jql(config: &Map<String, Value>) -> Result<&str, Failure> {
    match config.get("jql") {
        None | Some(Value::Null) => Ok(DEFAULT_JQL),
        Some(Value::String(jql)) if jql.trim().is_empty() => Ok(DEFAULT_JQL),
        Some(Value::String(jql)) => Ok(jql.trim()),
        Some(_) => Err(Failure::Permanent("jira config `jql` must be a string".into())),
    }
}

/// The user's JQL restricted to the window and ordered oldest update first: the user's own
/// `ORDER BY` is dropped (the walk needs `updated` order), and the filter is parenthesised so an
/// `OR` in it cannot escape the time restriction.
fn window_jql(user: &str, window: &Window) -> String {
    let filter = without_order_by(user).trim();
    let since = jql_minute(window.since_millis.saturating_sub(JQL_MARGIN_MS), false);
    let until = jql_minute(window.until_millis.saturating_add(JQL_MARGIN_MS), true);
    let time = format!("updated >= \"{since}\" AND updated < \"{until}\"");
    if filter.is_empty() {
        format!("{time} ORDER BY updated ASC")
    } else {
        format!("({filter}) AND {time} ORDER BY updated ASC")
    }
}

/// `jql` up to its `ORDER BY` clause (outside quoted strings), or all of it.
fn without_order_by(jql: &str) -> &str {
    let bytes = jql.as_bytes();
    let mut quote: Option<u8> = None;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match quote {
            Some(_) if byte == b'\\' => index += 1,
            Some(open) if byte == open => quote = None,
            Some(_) => {}
            None if byte == b'"' || byte == b'\'' => quote = Some(byte),
            None => {
                let starts_word = index == 0 || !is_word_byte(bytes[index - 1]);
                if starts_word && starts_order_by(&jql[index..]) {
                    return &jql[..index];
                }
            }
        }
        index += 1;
    }
    jql
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `rest` begins with the words `order by` (any case, any whitespace between).
fn starts_order_by(rest: &str) -> bool {
    let Some(head) = rest.get(..5) else { return false };
    if !head.eq_ignore_ascii_case("order") {
        return false;
    }
    let after = &rest[5..];
    let by = after.trim_start();
    by.len() < after.len()
        && by.get(..2).is_some_and(|word| word.eq_ignore_ascii_case("by"))
        && by.as_bytes().get(2).is_none_or(|byte| !is_word_byte(*byte))
}

/// Unix ms as a JQL date `yyyy-MM-dd HH:mm` (UTC digits), rounded down or up to the minute.
fn jql_minute(millis: i64, round_up: bool) -> String {
    const MINUTE_MS: i64 = 60_000;
    let millis = millis.max(0);
    let minute = if round_up { millis.saturating_add(MINUTE_MS - 1) / MINUTE_MS } else { millis / MINUTE_MS };
    let formatted = format_unix_millis((minute * MINUTE_MS) as u64);
    // `YYYY-MM-DDTHH:MM:SS.mmmZ` → `YYYY-MM-DD HH:MM`
    formatted.get(..16).unwrap_or(formatted.as_str()).replacen('T', " ", 1)
}

/// A Jira time (`2024-01-15T10:30:00.000+0000`, or RFC 3339) as RFC 3339 UTC.
fn normalize_time(text: &str) -> Option<String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    // RFC 3339 wants the offset as `+00:00`; Jira writes `+0000`.
    let offset_without_colon = bytes.len() > 5
        && matches!(bytes[bytes.len() - 5], b'+' | b'-')
        && bytes[bytes.len() - 4..].iter().all(u8::is_ascii_digit);
    let rfc3339 = if offset_without_colon {
        let (head, minutes) = text.split_at(text.len() - 2);
        format!("{head}:{minutes}")
    } else {
        text.to_string()
    };
    parse_unix_millis(&rfc3339).map(format_unix_millis)
}

/// Where issues are browsed (`https://<site>.atlassian.net`): the API base when it is the site,
/// else the site of the issue's `self` link, else the configured `base_url`; never the OAuth
/// gateway, which serves no `/browse` pages.
fn browse_site(connection: &Connection<'_>, issue: &Value) -> Option<String> {
    let self_site =
        issue.get("self").and_then(Value::as_str).and_then(|link| link.split_once("/rest/")).map(|(site, _)| site);
    let configured = connection.config.get("base_url").and_then(Value::as_str);
    [Some(connection.api_base), self_site, configured]
        .into_iter()
        .flatten()
        .map(|site| site.trim().trim_end_matches('/'))
        .find(|site| {
            (site.starts_with("https://") || site.starts_with("http://"))
                && !site.contains("/ex/jira/")
                && !site.contains("api.atlassian.com")
        })
        .map(str::to_string)
}

/// Highest→p1 … Lowest→p5 (Jira's default priority scheme); other names say nothing.
fn severity(priority_name: &str) -> Option<&'static str> {
    match priority_name.trim().to_ascii_lowercase().as_str() {
        "highest" => Some("p1"),
        "high" => Some("p2"),
        "medium" => Some("p3"),
        "low" => Some("p4"),
        "lowest" => Some("p5"),
        _ => None,
    }
}

/// One issue of a search answer as an ingest record.
fn issue_record(connection: &Connection<'_>, issue: &Value) -> Result<VendorRecord, Failure> {
    let key = issue
        .get("key")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| Failure::Permanent("jira answered an issue without a key".into()))?;
    let fields = issue
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| Failure::Permanent(format!("jira answered issue {key} without fields")))?;
    let text_field = |name: &str| fields.get(name).and_then(Value::as_str);
    let updated_at = text_field("updated")
        .and_then(normalize_time)
        .ok_or_else(|| Failure::Permanent(format!("jira issue {key} has no readable `updated` time")))?;
    let created_at = text_field("created").and_then(normalize_time);

    let mut record = Map::new();
    record.insert("source".into(), json!(KIND));
    record.insert("external_id".into(), json!(text::cut_chars(key, MAX_EXTERNAL_ID_CHARS)));
    record.insert("title".into(), json!(text::title(text_field("summary").unwrap_or(""), key)));
    if let Some(body) = fields.get("description").map(rich_text).and_then(|text| text::body(&text)) {
        record.insert("body".into(), json!(body));
    }
    let priority = fields.get("priority").and_then(|priority| priority.get("name")).and_then(Value::as_str);
    if let Some(severity) = priority.and_then(severity) {
        record.insert("severity".into(), json!(severity));
    }
    let service = fields
        .get("components")
        .and_then(Value::as_array)
        .and_then(|components| components.first())
        .and_then(|component| component.get("name"))
        .and_then(Value::as_str)
        .and_then(text::short);
    if let Some(service) = service {
        record.insert("service".into(), json!(service));
    }
    if let Some(site) = browse_site(connection, issue) {
        let url = format!("{site}/browse/{key}");
        if url.len() <= MAX_URL_CHARS {
            record.insert("external_url".into(), json!(url));
        }
    }
    if let Some(created_at) = &created_at {
        record.insert("source_created_at".into(), json!(created_at));
    }

    let resolution_date = text_field("resolutiondate").and_then(normalize_time);
    let done = fields
        .get("status")
        .and_then(|status| status.get("statusCategory"))
        .and_then(|category| category.get("key"))
        .and_then(Value::as_str)
        == Some("done");
    if resolution_date.is_some() || done {
        record.insert("status".into(), json!("resolved"));
        // A done status without a resolution date was resolved by its last update at the latest;
        // never before its creation, which ingest would refuse.
        let resolved_at = resolution_date.unwrap_or_else(|| updated_at.clone());
        let resolved_at = match &created_at {
            Some(created_at) if resolved_at < *created_at => created_at.clone(),
            _ => resolved_at,
        };
        record.insert("resolved_at".into(), json!(resolved_at));
        if let Some(fix) = fix(fields) {
            record.insert("resolution".into(), json!({ "fix": fix }));
        }
    } else {
        // Says so explicitly: an Issue resolved earlier reopens.
        record.insert("status".into(), json!("open"));
    }
    Ok(VendorRecord { record: Value::Object(record), updated_at })
}

/// The fix: the resolution's name and the text of the last comment Jira returned (the comment a
/// resolve screen asks for is where teams write what they did), e.g. `Done: rolled back 4.2`.
/// Comments come oldest first; a search returns a bounded number of them, so on an issue with
/// very many comments the last one returned may not be the newest.
fn fix(fields: &Map<String, Value>) -> Option<String> {
    let name = fields.get("resolution").and_then(|resolution| resolution.get("name")).and_then(Value::as_str);
    let comment = fields
        .get("comment")
        .and_then(|comment| comment.get("comments"))
        .and_then(Value::as_array)
        .and_then(|comments| comments.last())
        .and_then(|comment| comment.get("body"))
        .map(rich_text)
        .filter(|text| !text.trim().is_empty());
    let fix = match (name.map(str::trim).filter(|name| !name.is_empty()), comment) {
        (Some(name), Some(comment)) => format!("{name}: {}", comment.trim()),
        (Some(name), None) => name.to_string(),
        (None, Some(comment)) => comment,
        (None, None) => return None,
    };
    text::fix(&fix)
}

/// A rich-text field as plain text: ADF rendered, a plain string (older fields) kept as is.
fn rich_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(_) => adf_block(value, 0),
        _ => String::new(),
    }
}

/// ADF inline nodes: what a paragraph is made of.
fn is_inline(node: &Value) -> bool {
    matches!(
        node.get("type").and_then(Value::as_str),
        Some("text" | "hardBreak" | "mention" | "emoji" | "inlineCard" | "date" | "status" | "mediaInline")
    )
}

fn children(node: &Value) -> &[Value] {
    node.get("content").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.get("attrs").and_then(|attrs| attrs.get(name)).and_then(Value::as_str)
}

/// The text of an inline node (and of any node read as a run of text).
fn adf_inline(node: &Value, depth: usize) -> String {
    if depth > MAX_ADF_DEPTH {
        return String::new();
    }
    match node.get("type").and_then(Value::as_str) {
        Some("text") => node.get("text").and_then(Value::as_str).unwrap_or("").to_string(),
        Some("hardBreak") => "\n".to_string(),
        Some("mention" | "emoji" | "status") => {
            attr(node, "text").or_else(|| attr(node, "shortName")).unwrap_or("").to_string()
        }
        Some("inlineCard") => attr(node, "url").unwrap_or("").to_string(),
        _ => children(node).iter().map(|child| adf_inline(child, depth + 1)).collect(),
    }
}

/// The text of a block node: paragraphs and headings as lines, list items as `- ` or `1. `
/// lines, code blocks verbatim, other containers (the document, quotes, panels, tables, unknown
/// nodes) as their children's blocks separated by blank lines.
fn adf_block(node: &Value, depth: usize) -> String {
    if depth > MAX_ADF_DEPTH {
        return String::new();
    }
    match node.get("type").and_then(Value::as_str) {
        Some("paragraph" | "heading" | "codeBlock") => adf_inline(node, depth),
        Some("bulletList") => list(node, depth, |_| "- ".to_string()),
        Some("orderedList") => {
            let start = node.get("attrs").and_then(|attrs| attrs.get("order")).and_then(Value::as_u64).unwrap_or(1);
            list(node, depth, |index| format!("{}. ", start.saturating_add(index as u64)))
        }
        _ if is_inline(node) => adf_inline(node, depth),
        Some("listItem") => container(node, depth, "\n"),
        _ => container(node, depth, "\n\n"),
    }
}

/// Children as blocks joined by `separator`; consecutive inline children form one block.
fn container(node: &Value, depth: usize, separator: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut run = String::new();
    for child in children(node) {
        if is_inline(child) {
            run.push_str(&adf_inline(child, depth + 1));
        } else {
            blocks.push(std::mem::take(&mut run));
            blocks.push(adf_block(child, depth + 1));
        }
    }
    blocks.push(run);
    blocks.retain(|block| !block.trim().is_empty());
    blocks.join(separator)
}

/// A list's items, each prefixed with `marker(index)` and its further lines indented.
fn list(node: &Value, depth: usize, marker: impl Fn(usize) -> String) -> String {
    children(node)
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let text = adf_block(item, depth + 1);
            format!("{}{}", marker(index), text.replace('\n', "\n  "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{authorize_url, ClientSettings};
    use causeloop_domain::limits::{MAX_BODY_BYTES, MAX_TITLE_CHARS};

    const SITE: &str = "https://your-domain.atlassian.net";
    // 2024-01-15T10:00:00Z and 2024-01-16T10:00:00Z.
    const WINDOW: Window = Window { since_millis: 1_705_312_800_000, until_millis: 1_705_399_200_000 };

    fn config(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn connection<'a>(base: &'a str, config: &'a Map<String, Value>, auth: &'a Auth) -> Connection<'a> {
        Connection { api_base: base, config, auth }
    }

    fn answer(body: Value) -> Response {
        Response { status: 200, headers: vec![], body: body.to_string().into_bytes() }
    }

    fn adf(paragraph: &str) -> Value {
        json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": paragraph}]}
        ]})
    }

    /// An issue shaped like the examples of Atlassian's search reference.
    fn issue(key: &str, updated: &str) -> Value {
        json!({
            "expand": "",
            "id": "10002",
            "key": key,
            "self": format!("{SITE}/rest/api/3/issue/10002"),
            "fields": {
                "summary": "Checkout returns 502",
                "description": adf("Seen on every payment."),
                "priority": {"id": "2", "name": "High", "self": format!("{SITE}/rest/api/3/priority/2")},
                "status": {"name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"}},
                "created": "2024-01-15T09:30:00.000+0100",
                "updated": updated,
                "resolutiondate": null,
                "resolution": null,
                "components": [{"id": "10000", "name": "payments"}, {"id": "10001", "name": "web"}],
                "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0}
            }
        })
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let parsed = url::Url::parse(url).expect("url");
        parsed.query_pairs().into_owned().collect()
    }

    fn param(url: &str, name: &str) -> Option<String> {
        query(url).into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    #[test]
    fn the_first_request_ands_the_window_into_the_users_jql() {
        let config = config(json!({"jql": "project = OPS OR labels = \"order by\" order  BY priority DESC"}));
        let auth = Auth::Basic { user: "a@b.c".into(), password: "t".into() };
        let request = Jira.request(&connection(SITE, &config, &auth), &WINDOW, &Value::Null).unwrap();
        assert!(request.url.starts_with("https://your-domain.atlassian.net/rest/api/3/search/jql?"), "{}", request.url);
        assert_eq!(
            param(&request.url, "jql").as_deref(),
            Some(
                "(project = OPS OR labels = \"order by\") AND updated >= \"2024-01-14 10:00\" \
                 AND updated < \"2024-01-17 10:00\" ORDER BY updated ASC"
            )
        );
        assert_eq!(param(&request.url, "fields").as_deref(), Some(FIELDS));
        assert_eq!(param(&request.url, "maxResults").as_deref(), Some("100"));
        assert_eq!(param(&request.url, "nextPageToken"), None);
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(request.header("authorization"), Some("Basic YUBiLmM6dA=="));
    }

    #[test]
    fn the_default_jql_is_only_the_time_filter() {
        let config = Map::new();
        let auth = Auth::Bearer("tok".into());
        let gateway = "https://api.atlassian.com/ex/jira/11111111-2222-3333-4444-555555555555";
        let window = Window { since_millis: 1_705_312_830_500, until_millis: 1_705_312_830_501 };
        let cursor = json!({"nextPageToken": "CAEaAggD"});
        let request = Jira.request(&connection(gateway, &config, &auth), &window, &cursor).unwrap();
        assert!(request.url.starts_with(&format!("{gateway}/rest/api/3/search/jql?")), "{}", request.url);
        // Lower bound rounded down, upper bound rounded up to the minute, each a day out.
        assert_eq!(
            param(&request.url, "jql").as_deref(),
            Some("updated >= \"2024-01-14 10:00\" AND updated < \"2024-01-16 10:01\" ORDER BY updated ASC")
        );
        assert_eq!(param(&request.url, "nextPageToken").as_deref(), Some("CAEaAggD"));
        assert_eq!(request.header("authorization"), Some("Bearer tok"));
    }

    #[test]
    fn order_by_is_found_only_as_a_clause() {
        assert_eq!(without_order_by("summary ~ \"reorder by size\" ORDER BY key"), "summary ~ \"reorder by size\" ");
        assert_eq!(without_order_by("recorder = x"), "recorder = x");
        assert_eq!(without_order_by("ordered = 1 order\tby created"), "ordered = 1 ");
        assert_eq!(without_order_by("summary ~ 'it\\'s order by' and x = 1"), "summary ~ 'it\\'s order by' and x = 1");
        assert_eq!(without_order_by("order by updated"), "");
    }

    #[test]
    fn pages_follow_the_next_page_token_until_the_last() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let connection = connection(SITE, &config, &auth);
        let first = answer(json!({
            "isLast": false,
            "issues": [issue("OPS-1", "2024-01-15T11:00:00.000+0000")],
            "nextPageToken": "CAEaAggD"
        }));
        let page = Jira.read(&connection, &WINDOW, &Value::Null, &first, 0).unwrap();
        assert_eq!(page.next, Some(json!({"nextPageToken": "CAEaAggD"})));
        assert_eq!(page.records.len(), 1);
        // The last page may say isLast, or just omit the token (JRACLOUD-92184).
        let last = answer(json!({"isLast": true, "issues": [issue("OPS-2", "2024-01-15T12:00:00.000+0000")]}));
        let page = Jira.read(&connection, &WINDOW, &json!({"nextPageToken": "CAEaAggD"}), &last, 0).unwrap();
        assert_eq!(page.next, None);
        let no_flag = answer(json!({"issues": []}));
        assert_eq!(Jira.read(&connection, &WINDOW, &Value::Null, &no_flag, 0).unwrap().next, None);
        let stuck = answer(json!({"isLast": false, "issues": [], "nextPageToken": "CAEaAggD"}));
        assert!(matches!(
            Jira.read(&connection, &WINDOW, &json!({"nextPageToken": "CAEaAggD"}), &stuck, 0),
            Err(Failure::Permanent(_))
        ));
    }

    #[test]
    fn every_field_is_mapped() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let mut open = issue("OPS-123", "2024-01-15T12:34:56.789+0200");
        open["fields"]["description"] = json!({"type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Impact"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Every "},
                {"type": "text", "text": "payment", "marks": [{"type": "strong"}]},
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"id": "5b10", "text": "@Ana"}},
                {"type": "text", "text": " is on it"}
            ]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "eu-west"}]}]},
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "us-east"}]},
                    {"type": "orderedList", "attrs": {"order": 3}, "content": [
                        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "az-1"}]}]}
                    ]}
                ]}
            ]},
            {"type": "codeBlock", "attrs": {"language": "sh"}, "content": [{"type": "text", "text": "curl -v /pay\nexit 1"}]},
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "see "}, {"type": "inlineCard", "attrs": {"url": "https://status.example"}}]}
            ]},
            {"type": "someFutureNode", "content": [{"type": "text", "text": "kept"}]}
        ]});
        let page = Jira
            .read(&connection(SITE, &config, &auth), &WINDOW, &Value::Null, &answer(json!({"issues": [open]})), 0)
            .unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.records[0].updated_at, "2024-01-15T10:34:56.789Z");
        assert_eq!(
            page.records[0].record,
            json!({
                "source": "jira",
                "external_id": "OPS-123",
                "title": "Checkout returns 502",
                "body": "Impact\n\nEvery payment\n@Ana is on it\n\n- eu-west\n- us-east\n  3. az-1\n\ncurl -v /pay\nexit 1\n\nsee https://status.example\n\nkept",
                "severity": "p2",
                "service": "payments",
                "external_url": "https://your-domain.atlassian.net/browse/OPS-123",
                "source_created_at": "2024-01-15T08:30:00.000Z",
                "status": "open"
            })
        );
    }

    #[test]
    fn resolution_and_reopening_are_mapped() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let connection = connection(SITE, &config, &auth);
        let mut resolved = issue("OPS-7", "2024-01-15T15:00:00.000+0000");
        resolved["fields"]["resolutiondate"] = json!("2024-01-15T14:00:00.000+0000");
        resolved["fields"]["resolution"] =
            json!({"id": "10000", "name": "Done", "description": "Work has been completed."});
        resolved["fields"]["status"] =
            json!({"name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}});
        resolved["fields"]["priority"] = json!({"name": "Lowest"});
        resolved["fields"]["comment"] = json!({"comments": [
            {"id": "1", "body": adf("looking")},
            {"id": "2", "body": adf("rolled back 4.2")}
        ], "maxResults": 2, "total": 2, "startAt": 0});
        let page = Jira.read(&connection, &WINDOW, &Value::Null, &answer(json!({"issues": [resolved]})), 0).unwrap();
        let record = &page.records[0].record;
        assert_eq!(record["status"], "resolved");
        assert_eq!(record["resolved_at"], "2024-01-15T14:00:00.000Z");
        assert_eq!(record["resolution"], json!({"fix": "Done: rolled back 4.2"}));
        assert_eq!(record["severity"], "p5");

        // Done without a resolution date: resolved at its last update, no fix text.
        let mut done = issue("OPS-8", "2024-01-15T15:00:00.000+0000");
        done["fields"]["status"] = json!({"name": "Closed", "statusCategory": {"key": "done"}});
        done["fields"]["priority"] = json!({"name": "Blocker"});
        let page = Jira.read(&connection, &WINDOW, &Value::Null, &answer(json!({"issues": [done]})), 0).unwrap();
        let record = &page.records[0].record;
        assert_eq!(record["resolved_at"], "2024-01-15T15:00:00.000Z");
        assert_eq!(record.get("resolution"), None);
        assert_eq!(record.get("severity"), None);

        // Reopened: no resolution any more, so the record says open.
        let reopened = issue("OPS-7", "2024-01-15T16:00:00.000+0000");
        let page = Jira.read(&connection, &WINDOW, &Value::Null, &answer(json!({"issues": [reopened]})), 0).unwrap();
        assert_eq!(page.records[0].record["status"], "open");
        assert_eq!(page.records[0].record.get("resolved_at"), None);
    }

    #[test]
    fn records_outside_the_window_are_left_to_their_own_window() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let issues = json!({"issues": [
            issue("OPS-1", "2024-01-15T09:59:59.999+0000"),
            issue("OPS-2", "2024-01-15T10:00:00.000+0000"),
            issue("OPS-3", "2024-01-16T09:59:59.999+0000"),
            issue("OPS-4", "2024-01-16T10:00:00.000+0000")
        ]});
        let page = Jira.read(&connection(SITE, &config, &auth), &WINDOW, &Value::Null, &answer(issues), 0).unwrap();
        let keys: Vec<&Value> = page.records.iter().map(|record| &record.record["external_id"]).collect();
        assert_eq!(keys, vec!["OPS-2", "OPS-3"]);
    }

    #[test]
    fn the_gateway_base_browses_on_the_site_of_the_self_link_or_nowhere() {
        let gateway = "https://api.atlassian.com/ex/jira/11111111-2222-3333-4444-555555555555";
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let connection = connection(gateway, &config, &auth);
        let with_site = issue("OPS-1", "2024-01-15T11:00:00.000+0000");
        let page = Jira.read(&connection, &WINDOW, &Value::Null, &answer(json!({"issues": [with_site]})), 0).unwrap();
        assert_eq!(page.records[0].record["external_url"], "https://your-domain.atlassian.net/browse/OPS-1");
        let mut gateway_self = issue("OPS-2", "2024-01-15T11:00:00.000+0000");
        gateway_self["self"] = json!(format!("{gateway}/rest/api/3/issue/10002"));
        let page =
            Jira.read(&connection, &WINDOW, &Value::Null, &answer(json!({"issues": [gateway_self]})), 0).unwrap();
        assert_eq!(page.records[0].record.get("external_url"), None);
    }

    #[test]
    fn huge_text_is_cut_to_the_ingest_limits() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let mut huge = issue("OPS-1", "2024-01-15T11:00:00.000+0000");
        huge["fields"]["summary"] = json!("s".repeat(5_000));
        huge["fields"]["description"] = adf(&"é".repeat(100_000));
        huge["fields"]["components"] = json!([{"name": "c".repeat(1_000)}]);
        let page = Jira
            .read(&connection(SITE, &config, &auth), &WINDOW, &Value::Null, &answer(json!({"issues": [huge]})), 0)
            .unwrap();
        let record = &page.records[0].record;
        assert_eq!(record["title"].as_str().unwrap().chars().count(), MAX_TITLE_CHARS);
        let body = record["body"].as_str().unwrap();
        assert!(body.len() <= MAX_BODY_BYTES && body.ends_with('…'), "{}", body.len());
        assert_eq!(record["service"].as_str().unwrap().chars().count(), 256);
        causeloop_domain::ingest::normalize_record(record).expect("a valid ingest record");
    }

    #[test]
    fn failures_are_classified_before_the_body_is_read() {
        let config = Map::new();
        let auth = Auth::Bearer("t".into());
        let connection = connection(SITE, &config, &auth);
        let throttled = Response { status: 429, headers: vec![("retry-after".into(), "30".into())], body: vec![] };
        assert_eq!(
            Jira.read(&connection, &WINDOW, &Value::Null, &throttled, 0),
            Err(Failure::RateLimited { retry_after_seconds: 30 })
        );
        let refused = Response { status: 401, headers: vec![], body: b"{}".to_vec() };
        assert!(matches!(Jira.read(&connection, &WINDOW, &Value::Null, &refused, 0), Err(Failure::Unauthorized(_))));
        let bad_jql = Response { status: 400, headers: vec![], body: br#"{"errorMessages":["bad"]}"#.to_vec() };
        assert!(matches!(Jira.read(&connection, &WINDOW, &Value::Null, &bad_jql, 0), Err(Failure::Permanent(_))));
        let no_issues = answer(json!({"values": []}));
        assert!(matches!(Jira.read(&connection, &WINDOW, &Value::Null, &no_issues, 0), Err(Failure::Permanent(_))));
    }

    #[test]
    fn the_oauth_token_wins_and_missing_credentials_are_named() {
        let credentials = config(json!({"email": "a@b.c", "api_token": "t"}));
        assert_eq!(Jira.auth(&credentials, Some("access")), Ok(Auth::Bearer("access".into())));
        assert_eq!(Jira.auth(&credentials, None), Ok(Auth::Basic { user: "a@b.c".into(), password: "t".into() }));
        let err = Jira.auth(&config(json!({"email": "a@b.c"})), None).unwrap_err();
        assert!(err.contains("`api_token`"), "{err}");
        let err = Jira.auth(&Map::new(), Some("")).unwrap_err();
        assert!(err.contains("`email`"), "{err}");
    }

    #[test]
    fn the_authorize_url_asks_atlassians_audience_and_consent_without_pkce() {
        let settings = ClientSettings { client_id: "cid".into(), client_secret: "s".into(), ..Default::default() }
            .with_defaults(&OAUTH);
        let url = authorize_url(&OAUTH, &settings, SITE, "https://cl.example/cb", "st", "verifier");
        assert!(url.starts_with("https://auth.atlassian.com/authorize?response_type=code&client_id=cid"), "{url}");
        assert!(url.contains("scope=read%3Ajira-work+offline_access"), "{url}");
        assert!(url.contains("audience=api.atlassian.com") && url.contains("prompt=consent"), "{url}");
        assert!(!url.contains("code_challenge"), "{url}");
        assert_eq!(Jira.oauth(), Some(&OAUTH));
        assert_eq!(settings.token_url, "https://auth.atlassian.com/oauth/token");
    }
}
