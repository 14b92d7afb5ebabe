//! A fake Jira Cloud: the enhanced JQL search over the shared [`Ticket`]s.
//!
//! Served as Atlassian documents it: `GET /rest/api/3/search/jql` on the site and under the OAuth
//! gateway prefix `/ex/jira/{cloudId}`, with `jql` (required, bounded), `maxResults`, `fields`
//! (only the fields asked for come back, and none without it: stricter than Jira, so a connector
//! that forgets one fails) and an opaque `nextPageToken` bound to
//! its query; the answer has `issues`, `isLast` and, except on the last page, `nextPageToken`.
//! The deprecated `GET /rest/api/3/search` is not served. `GET /oauth/token/accessible-resources`
//! names the site's cloud id.
//!
//! The JQL understood is what a connector sends: `AND`/`OR`, parentheses, `project`, `key`,
//! `created` and `updated` compared with `=`, `!=`, `<`, `<=`, `>`, `>=` (`project` and `key`
//! also `in (...)`), dates as `"yyyy-MM-dd HH:mm"`, `"yyyy/MM/dd HH:mm"` or without the time,
//! and `ORDER BY` `updated`, `created` or `key`. Like Jira, it reads dates in the user's time
//! zone — here [`USER_OFFSET_HOURS`], far from UTC — and answers times in that offset
//! (`2024-01-15T00:30:00.000-1000`). A ticket's project is its key's prefix (`OPS-7` → `OPS`);
//! a resolved ticket has resolution `Done` and its fix text as its last comment.

use super::{Shared, Ticket};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

/// The fake Jira user's time zone (Honolulu): JQL dates are read in it.
pub const USER_OFFSET_HOURS: i8 = -10;
const DEFAULT_MAX_RESULTS: usize = 50;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/rest/api/3/search/jql", get(search_site))
        .route("/ex/jira/{cloud_id}/rest/api/3/search/jql", get(search_gateway))
        .route("/oauth/token/accessible-resources", get(accessible_resources))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errorMessages": [message], "errors": {}}))).into_response()
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn search_site(State(state): State<Shared>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let base = origin(&headers);
    search(&state, &base, query.as_deref())
}

async fn search_gateway(
    State(state): State<Shared>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if cloud_id != state.lock().unwrap().cloud_id {
        return refuse(StatusCode::NOT_FOUND, "No site with this cloud id is accessible.");
    }
    let base = format!("{}/ex/jira/{cloud_id}", origin(&headers));
    search(&state, &base, query.as_deref())
}

async fn accessible_resources(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let cloud_id = state.lock().unwrap().cloud_id.clone();
    Json(json!([{
        "id": cloud_id,
        "url": origin(&headers),
        "name": "fake-site",
        "scopes": ["read:jira-work", "offline_access"],
        "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
    }]))
    .into_response()
}

/// Where a page starts, bound to the query it belongs to.
fn page_token(offset: usize, jql: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"offset": offset, "jql": jql}).to_string())
}

fn read_page_token(token: &str, jql: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    (value["jql"] == jql).then(|| value["offset"].as_u64()).flatten().map(|offset| offset as usize)
}

fn search(state: &Shared, base: &str, raw_query: Option<&str>) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let Some(jql) = param("jql") else {
        return refuse(StatusCode::BAD_REQUEST, "The 'jql' parameter is required.");
    };
    let parsed = match Query::parse(jql) {
        Ok(parsed) => parsed,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let Some(filter) = parsed.filter else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        );
    };
    let max_results = match param("maxResults").map(str::parse::<usize>) {
        None => DEFAULT_MAX_RESULTS,
        Some(Ok(max)) if max > 0 => max,
        Some(_) => return refuse(StatusCode::BAD_REQUEST, "'maxResults' must be a positive integer."),
    };
    let offset = match param("nextPageToken") {
        None => 0,
        Some(token) => match read_page_token(token, jql) {
            Some(offset) => offset,
            None => return refuse(StatusCode::BAD_REQUEST, "The provided next page token is invalid or expired."),
        },
    };
    let fields: Vec<&str> =
        param("fields").map(|fields| fields.split(',').map(str::trim).collect()).unwrap_or_default();

    let state = state.lock().unwrap();
    let mut matching: Vec<&Ticket> = state.tickets.iter().filter(|ticket| filter.matches(ticket)).collect();
    matching.sort_by(|a, b| {
        let order = match parsed.order_field.as_str() {
            "created" => a.created_ms.cmp(&b.created_ms),
            "key" => a.key.cmp(&b.key),
            _ => a.updated_ms.cmp(&b.updated_ms),
        };
        let order = if parsed.descending { order.reverse() } else { order };
        order.then_with(|| a.key.cmp(&b.key))
    });
    let size = max_results.min(state.page_size);
    let page: Vec<Value> =
        matching.iter().skip(offset).take(size).map(|ticket| render(ticket, base, &fields)).collect();
    let end = offset + page.len();
    let mut answer = json!({"issues": page, "isLast": end >= matching.len()});
    if end < matching.len() {
        answer["nextPageToken"] = json!(page_token(end, jql));
    }
    Json(answer).into_response()
}

/// Unix ms as Jira writes times: `2024-01-15T00:30:00.000-1000`, in the user's offset.
pub fn jira_time(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(USER_OFFSET_HOURS, 0, 0).expect("offset");
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("time").to_offset(offset);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
    );
    at.format(&format).expect("format")
}

/// A JQL date in the user's time zone as Unix ms.
fn jql_date(text: &str) -> Option<i64> {
    let normalized = text.trim().replace('/', "-");
    let with_time = if normalized.len() == 10 { format!("{normalized} 00:00") } else { normalized };
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let local = time::PrimitiveDateTime::parse(&with_time, &format).ok()?;
    let offset = time::UtcOffset::from_hms(USER_OFFSET_HOURS, 0, 0).ok()?;
    Some((local.assume_offset(offset).unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A text as an ADF document: paragraphs at blank lines, hard breaks at single newlines.
fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(|paragraph| {
            let mut content = Vec::new();
            for (index, line) in paragraph.split('\n').enumerate() {
                if index > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    content.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": content})
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

const PRIORITIES: [&str; 5] = ["Highest", "High", "Medium", "Low", "Lowest"];

/// A ticket as an issue of a search answer, with only the `fields` asked for.
fn render(ticket: &Ticket, base: &str, fields: &[&str]) -> Value {
    let id =
        10_000 + ticket.key.bytes().fold(0u32, |sum, byte| sum.wrapping_mul(31).wrapping_add(byte as u32)) % 90_000;
    let priority = PRIORITIES[usize::from(ticket.priority.clamp(1, 5)) - 1];
    let (status, resolution, resolution_date, comments) = match &ticket.resolved {
        Some((at, fix)) => (
            json!({"name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}}),
            json!({"id": "10000", "name": "Done", "description": "Work has been completed on this issue."}),
            json!(jira_time(*at)),
            if fix.is_empty() { vec![] } else { vec![json!({"id": "1", "body": adf(fix), "created": jira_time(*at)})] },
        ),
        None => (
            json!({"name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}}),
            Value::Null,
            Value::Null,
            vec![],
        ),
    };
    let all = json!({
        "summary": ticket.title,
        "description": if ticket.body.is_empty() { Value::Null } else { adf(&ticket.body) },
        "priority": {"id": ticket.priority.to_string(), "name": priority},
        "status": status,
        "created": jira_time(ticket.created_ms),
        "updated": jira_time(ticket.updated_ms),
        "resolutiondate": resolution_date,
        "resolution": resolution,
        "components": ticket.service.iter().map(|name| json!({"id": "10000", "name": name})).collect::<Vec<_>>(),
        "comment": {"comments": comments, "maxResults": comments.len(), "total": comments.len(), "startAt": 0},
    });
    let every = fields.iter().any(|field| matches!(*field, "*all" | "*navigable"));
    let chosen: serde_json::Map<String, Value> = all
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| every || fields.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    json!({
        "expand": "",
        "id": id.to_string(),
        "key": ticket.key,
        "self": format!("{base}/rest/api/3/issue/{id}"),
        "fields": chosen,
    })
}

/// A parsed JQL query: its filter (`None` when unbounded) and its order.
struct Query {
    filter: Option<Expr>,
    order_field: String,
    descending: bool,
}

enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare { field: String, op: String, values: Vec<String> },
}

impl Expr {
    fn matches(&self, ticket: &Ticket) -> bool {
        match self {
            Expr::And(left, right) => left.matches(ticket) && right.matches(ticket),
            Expr::Or(left, right) => left.matches(ticket) || right.matches(ticket),
            Expr::Compare { field, op, values } => {
                let project = ticket.key.split('-').next().unwrap_or("");
                match field.as_str() {
                    "project" | "key" => {
                        let actual = if field == "project" { project } else { ticket.key.as_str() };
                        let found = values.iter().any(|value| value.eq_ignore_ascii_case(actual));
                        if op == "!=" || op == "not in" {
                            !found
                        } else {
                            found
                        }
                    }
                    _ => {
                        let actual = if field == "created" { ticket.created_ms } else { ticket.updated_ms };
                        // Parsed when the query was read.
                        let Some(bound) = jql_date(&values[0]) else { return false };
                        // JQL compares at minute precision.
                        let actual = actual - actual.rem_euclid(60_000);
                        match op.as_str() {
                            "=" => actual == bound,
                            "!=" => actual != bound,
                            "<" => actual < bound,
                            "<=" => actual <= bound,
                            ">" => actual > bound,
                            _ => actual >= bound,
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Word(String),
    Quoted(String),
    Op(String),
}

fn tokenize(jql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = jql.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            _ if c.is_whitespace() => index += 1,
            '(' | ')' | ',' => {
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
                index += 1;
            }
            '"' | '\'' => {
                let mut text = String::new();
                index += 1;
                loop {
                    match chars.get(index) {
                        None => return Err("The quoted string in the JQL query is not terminated.".into()),
                        Some('\\') => {
                            text.extend(chars.get(index + 1));
                            index += 2;
                        }
                        Some(&end) if end == c => {
                            index += 1;
                            break;
                        }
                        Some(&other) => {
                            text.push(other);
                            index += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let mut op = c.to_string();
                if chars.get(index + 1) == Some(&'=') {
                    op.push('=');
                    index += 1;
                }
                index += 1;
                tokens.push(Token::Op(op));
            }
            _ => {
                let start = index;
                while index < chars.len() && !chars[index].is_whitespace() && !"()=,!<>~\"'".contains(chars[index]) {
                    index += 1;
                }
                tokens.push(Token::Word(chars[start..index].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn is_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(text)) if text.eq_ignore_ascii_case(word))
}

impl Query {
    fn parse(jql: &str) -> Result<Self, String> {
        let tokens = tokenize(jql)?;
        let order_at = (0..tokens.len())
            .find(|&index| is_word(tokens.get(index), "order") && is_word(tokens.get(index + 1), "by"))
            .unwrap_or(tokens.len());
        let (where_tokens, order_tokens) = tokens.split_at(order_at);
        let (order_field, descending) = match order_tokens {
            [] => ("updated".to_string(), true),
            [_, _, Token::Word(field), rest @ ..] => {
                let field = field.to_ascii_lowercase();
                if !matches!(field.as_str(), "updated" | "created" | "key") {
                    return Err(format!("The fake cannot order by '{field}'."));
                }
                let descending = match rest {
                    [] => false,
                    [direction] if is_word(Some(direction), "asc") => false,
                    [direction] if is_word(Some(direction), "desc") => true,
                    _ => return Err("Error in the JQL Query: expected ASC or DESC.".into()),
                };
                (field, descending)
            }
            _ => return Err("Error in the JQL Query: expecting a field after 'order by'.".into()),
        };
        let filter = if where_tokens.is_empty() {
            None
        } else {
            let mut parser = Parser { tokens: where_tokens, at: 0 };
            let expr = parser.or()?;
            if parser.at != where_tokens.len() {
                return Err(format!("Error in the JQL Query: unexpected {:?}.", where_tokens[parser.at]));
            }
            Some(expr)
        };
        Ok(Query { filter, order_field, descending })
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while is_word(self.tokens.get(self.at), "or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.atom()?;
        while is_word(self.tokens.get(self.at), "and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn value(&mut self) -> Result<String, String> {
        let value = match self.tokens.get(self.at) {
            Some(Token::Word(text) | Token::Quoted(text)) => text.clone(),
            other => return Err(format!("Error in the JQL Query: expected a value, found {other:?}.")),
        };
        self.at += 1;
        Ok(value)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err("Error in the JQL Query: expected ')'.".into());
            }
            self.at += 1;
            return Ok(inner);
        }
        let field = self.value()?.to_ascii_lowercase();
        if !matches!(field.as_str(), "project" | "key" | "created" | "updated") {
            return Err(format!("Field '{field}' does not exist or you do not have permission to view it."));
        }
        let op = match self.tokens.get(self.at) {
            Some(Token::Op(op)) => op.clone(),
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("in") => "in".to_string(),
            Some(Token::Word(word))
                if word.eq_ignore_ascii_case("not") && is_word(self.tokens.get(self.at + 1), "in") =>
            {
                self.at += 1;
                "not in".to_string()
            }
            other => return Err(format!("Error in the JQL Query: expected an operator, found {other:?}.")),
        };
        self.at += 1;
        let values = if op.ends_with("in") {
            if self.tokens.get(self.at) != Some(&Token::Open) {
                return Err("Error in the JQL Query: expected '(' after 'in'.".into());
            }
            self.at += 1;
            let mut values = vec![self.value()?];
            while self.tokens.get(self.at) == Some(&Token::Comma) {
                self.at += 1;
                values.push(self.value()?);
            }
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err("Error in the JQL Query: expected ')'.".into());
            }
            self.at += 1;
            values
        } else {
            vec![self.value()?]
        };
        let is_date = matches!(field.as_str(), "created" | "updated");
        if is_date && (op.ends_with("in") || op == "~" || jql_date(&values[0]).is_none()) {
            return Err(format!("Date value '{}' for field '{field}' is invalid.", values[0]));
        }
        if !is_date && !matches!(op.as_str(), "=" | "!=" | "in" | "not in") {
            return Err(format!("The operator '{op}' is not supported by the '{field}' field."));
        }
        Ok(Expr::Compare { field, op, values })
    }
}

#[cfg(test)]
mod tests {
    use super::super::drive_jira_github::{step, walk, walk_from};
    use super::super::{FakeVendor, Fault, Ticket};
    use super::*;
    use causeloop_connectors::jira::Jira;
    use causeloop_connectors::{Auth, Connection, Failure, Window};
    use serde_json::Map;

    // 2024-01-15T10:00:00Z
    const T0: i64 = 1_705_312_800_000;
    const HOUR: i64 = 3_600_000;
    const BASIC: &str = "Basic b3BzQGFjbWUuZXhhbXBsZTpzM2NyM3Q=";

    fn basic() -> Auth {
        Auth::Basic { user: "ops@acme.example".into(), password: "s3cr3t".into() }
    }

    async fn fake() -> FakeVendor {
        let fake = FakeVendor::start(routes()).await;
        fake.accept(BASIC);
        fake
    }

    fn ids(records: &[causeloop_connectors::VendorRecord]) -> Vec<String> {
        records.iter().map(|record| record.record["external_id"].as_str().unwrap_or("").to_string()).collect()
    }

    fn searches(fake: &FakeVendor) -> Vec<super::super::Seen> {
        fake.seen().into_iter().filter(|seen| seen.path.ends_with("/rest/api/3/search/jql")).collect()
    }

    #[tokio::test]
    async fn a_backfill_walks_every_page_in_update_order() {
        let fake = fake().await;
        for (index, key) in ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"].iter().enumerate() {
            let mut ticket = Ticket::new(key, &format!("incident {index}"), T0 + index as i64 * HOUR);
            ticket.updated_ms = T0 + (5 - index as i64) * HOUR;
            fake.put(ticket);
        }
        fake.put(Ticket::new("OPS-6", "checkout down", T0).resolved_at(T0 + 6 * HOUR, "rolled back\nrelease 4.2"));
        let config = Map::new();
        let auth = basic();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0 - 24 * HOUR, until_millis: T0 + 24 * HOUR };
        let records = walk(&Jira, &connection, &window).await.expect("walk");
        assert_eq!(ids(&records), ["OPS-5", "OPS-4", "OPS-3", "OPS-2", "OPS-1", "OPS-6"]);
        let seen = searches(&fake);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].param("nextPageToken"), None);
        assert!(seen[1].param("nextPageToken").is_some() && seen[2].param("nextPageToken").is_some());
        assert!(seen.iter().all(|request| request.header("authorization") == BASIC));
        let resolved = &records[5];
        assert_eq!(
            resolved.record,
            json!({
                "source": "jira",
                "external_id": "OPS-6",
                "title": "checkout down",
                "body": "checkout down: details",
                "severity": "p2",
                "service": "checkout",
                "external_url": format!("{}/browse/OPS-6", fake.base_url),
                "source_created_at": "2024-01-15T10:00:00.000Z",
                "status": "resolved",
                "resolved_at": "2024-01-15T16:00:00.000Z",
                "resolution": {"fix": "Done: rolled back\nrelease 4.2"}
            })
        );
        assert_eq!(resolved.updated_at, "2024-01-15T16:00:00.000Z");
    }

    #[tokio::test]
    async fn an_incremental_window_reads_only_its_updates_through_the_users_jql() {
        let fake = fake().await;
        let at = |key: &str, updated_ms: i64| {
            let mut ticket = Ticket::new(key, key, T0 - 48 * HOUR);
            ticket.updated_ms = updated_ms;
            ticket
        };
        // Just before, at the start, inside, just before the end, and at the end of the window.
        fake.put(at("OPS-1", T0 - 1));
        fake.put(at("OPS-2", T0));
        fake.put(at("WEB-3", T0 + HOUR));
        fake.put(at("OPS-4", T0 + 2 * HOUR - 1));
        fake.put(at("OPS-5", T0 + 2 * HOUR));
        fake.put(at("ADM-6", T0 + HOUR));
        let config: Map<String, Value> =
            json!({"jql": "project = OPS OR project = web order by created DESC"}).as_object().cloned().unwrap();
        let auth = basic();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 2 * HOUR };
        let records = walk(&Jira, &connection, &window).await.expect("walk");
        assert_eq!(ids(&records), ["OPS-2", "WEB-3", "OPS-4"]);
        let jql = searches(&fake)[0].param("jql").unwrap_or("").to_string();
        assert!(jql.starts_with("(project = OPS OR project = web) AND updated >= "), "{jql}");
        assert!(jql.ends_with(" ORDER BY updated ASC"), "{jql}");
    }

    #[tokio::test]
    async fn a_throttled_page_is_retried_at_the_same_cursor_and_nothing_is_lost() {
        let fake = fake().await;
        for index in 0..5 {
            fake.put(Ticket::new(&format!("OPS-{index}"), "t", T0 + index * HOUR));
        }
        let config = Map::new();
        let auth = basic();
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &auth };
        let window = Window { since_millis: T0, until_millis: T0 + 24 * HOUR };
        let first = step(&Jira, &connection, &window, &Value::Null).await.expect("first page");
        let cursor = first.next.expect("more pages");
        fake.fault(Fault::Throttle(7));
        assert_eq!(
            step(&Jira, &connection, &window, &cursor).await,
            Err(Failure::RateLimited { retry_after_seconds: 7 })
        );
        let mut records = first.records;
        let mut resumed = cursor.clone();
        walk_from(&Jira, &connection, &window, &mut resumed, &mut records).await.expect("resumed walk");
        assert_eq!(ids(&records), ["OPS-0", "OPS-1", "OPS-2", "OPS-3", "OPS-4"]);
        let seen = searches(&fake);
        assert_eq!(seen[1].param("nextPageToken"), seen[2].param("nextPageToken"));
    }

    #[tokio::test]
    async fn refused_credentials_and_expired_tokens_are_unauthorized() {
        let fake = fake().await;
        fake.put(Ticket::new("OPS-1", "t", T0));
        let config = Map::new();
        let window = Window { since_millis: T0, until_millis: T0 + HOUR };
        let wrong = Auth::Basic { user: "ops@acme.example".into(), password: "wrong".into() };
        let connection = Connection { api_base: &fake.base_url, config: &config, auth: &wrong };
        assert!(matches!(walk(&Jira, &connection, &window).await, Err(Failure::Unauthorized(_))));

        // An OAuth grant reads through the gateway prefix until its token expires.
        let code = fake.consent(None);
        let client = reqwest::Client::new();
        let tokens: Value = client
            .post(format!("{}/oauth/token", fake.base_url))
            .form(&[("grant_type", "authorization_code"), ("code", &code), ("client_id", "c"), ("client_secret", "s")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let bearer = Auth::Bearer(tokens["access_token"].as_str().unwrap_or("").to_string());
        let gateway = format!("{}/ex/jira/{}", fake.base_url, fake.lock().cloud_id);
        let connection = Connection { api_base: &gateway, config: &config, auth: &bearer };
        let records = walk(&Jira, &connection, &window).await.expect("gateway walk");
        assert_eq!(ids(&records), ["OPS-1"]);
        // The gateway's self links name no site, so there is no browse URL.
        assert_eq!(records[0].record.get("external_url"), None);
        fake.expire_access_tokens();
        assert!(matches!(walk(&Jira, &connection, &window).await, Err(Failure::Unauthorized(_))));
    }

    #[tokio::test]
    async fn the_fake_refuses_what_jira_refuses() {
        let fake = fake().await;
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(format!("{}{path}", fake.base_url)).header("authorization", BASIC).send();
        let status = |path: &'static str| {
            let request = get(path);
            async move { request.await.expect("answer").status().as_u16() }
        };
        assert_eq!(status("/rest/api/3/search?jql=project%20%3D%20OPS").await, 404, "the deprecated search");
        assert_eq!(status("/rest/api/3/search/jql").await, 400, "no jql");
        assert_eq!(status("/rest/api/3/search/jql?jql=order%20by%20updated").await, 400, "unbounded");
        assert_eq!(status("/rest/api/3/search/jql?jql=project%3DOPS&maxResults=lots").await, 400);
        assert_eq!(status("/rest/api/3/search/jql?jql=updated%20%3E%3D%20%22yesterday%22").await, 400);
        assert_eq!(status("/rest/api/3/search/jql?jql=project%3DOPS&nextPageToken=forged").await, 400);
        assert_eq!(status("/rest/api/3/search/jql?jql=project%3DOPS").await, 200);
        assert_eq!(status("/ex/jira/not-the-cloud-id/rest/api/3/search/jql?jql=project%3DOPS").await, 404);
    }

    #[test]
    fn the_fake_reads_jql_dates_in_the_users_time_zone() {
        // 2024-01-15 00:00 in Honolulu is 10:00 UTC.
        assert_eq!(jql_date("2024/01/15 00:00"), Some(T0));
        assert_eq!(jql_date("2024-01-15"), Some(T0));
        assert_eq!(jira_time(T0), "2024-01-15T00:00:00.000-1000");
        let ticket = Ticket::new("OPS-1", "t", T0);
        let query = Query::parse("(project = OPS OR key in (WEB-1)) AND updated >= \"2024-01-15 00:00\"").unwrap();
        assert!(query.filter.unwrap().matches(&ticket));
        let query = Query::parse("project = OPS AND updated > \"2024-01-15 00:00\"").unwrap();
        assert!(!query.filter.unwrap().matches(&ticket));
    }
}
