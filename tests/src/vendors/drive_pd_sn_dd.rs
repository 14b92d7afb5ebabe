//! A minimal sync driver for the vendor tests: sends each request a [`Vendor`] builds over real
//! sockets with reqwest, feeds the answer back, and follows the cursor until the window is
//! exhausted. The first failure ends the walk, as it ends a sync step in the worker.

use causeloop_connectors::http::same_origin;
use causeloop_connectors::{Connection, Cursor, Failure, Method, Request, Response, Vendor, VendorRecord, Window};
use serde_json::Value;

/// More pages than any test fake serves; a walk that needs more is looping.
const MAX_PAGES: usize = 500;

/// Walks `window` from the first page and returns every record read, or the first failure.
/// Every request must stay on `base_url` (credentials only go where the connector points).
pub async fn walk(
    vendor: &dyn Vendor,
    connection: &Connection<'_>,
    window: &Window,
    base_url: &str,
) -> Result<Vec<VendorRecord>, Failure> {
    let client = client();
    let mut cursor: Cursor = Value::Null;
    let mut records = Vec::new();
    for _ in 0..MAX_PAGES {
        let request = vendor.request(connection, window, &cursor)?;
        assert!(same_origin(base_url, &request.url), "{} left {base_url}", request.url);
        let response = send(&client, &request).await?;
        let page = vendor.read(connection, window, &cursor, &response, now_millis())?;
        records.extend(page.records);
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(records),
        }
    }
    panic!("{} did not finish within {MAX_PAGES} pages", vendor.kind());
}

/// A client as the worker's: redirects are not followed.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Sends one request; a transport error is transient, as in the worker.
pub async fn send(client: &reqwest::Client, request: &Request) -> Result<Response, Failure> {
    let mut builder = match request.method {
        Method::Get => client.get(&request.url),
        Method::Post => client.post(&request.url),
    };
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(form) = &request.form {
        builder = builder.form(form);
    }
    let answer = builder.send().await.map_err(|err| Failure::Transient(err.to_string()))?;
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let body = answer.bytes().await.map_err(|err| Failure::Transient(err.to_string()))?.to_vec();
    Ok(Response { status, headers, body })
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}
