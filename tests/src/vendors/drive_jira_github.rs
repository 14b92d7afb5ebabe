//! Drives a [`Vendor`] against a fake over real sockets the way the connector worker does: send
//! the request for the cursor, read the answer, checkpoint the next cursor, until the window is
//! exhausted or a page fails.

use causeloop_connectors::{Connection, Cursor, Failure, Method, Page, Response, Vendor, VendorRecord, Window};
use serde_json::Value;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |at| at.as_millis() as i64)
}

/// Sends the request for `cursor` and reads its answer.
pub async fn step(
    vendor: &dyn Vendor,
    connection: &Connection<'_>,
    window: &Window,
    cursor: &Cursor,
) -> Result<Page, Failure> {
    let request = vendor.request(connection, window, cursor)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| Failure::Transient(err.to_string()))?;
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
    vendor.read(connection, window, cursor, &Response { status, headers, body }, now_ms())
}

/// Walks from `cursor`, appending to `records` and moving `cursor` after each page (the
/// checkpoint); on a failure `cursor` still names the page that failed.
pub async fn walk_from(
    vendor: &dyn Vendor,
    connection: &Connection<'_>,
    window: &Window,
    cursor: &mut Cursor,
    records: &mut Vec<VendorRecord>,
) -> Result<(), Failure> {
    // A bound on pages, so a fake or vendor bug that loops fails the test instead of hanging it.
    for _ in 0..1_000 {
        let page = step(vendor, connection, window, cursor).await?;
        records.extend(page.records);
        match page.next {
            Some(next) => *cursor = next,
            None => return Ok(()),
        }
    }
    Err(Failure::Permanent("the walk did not end within 1000 pages".into()))
}

/// A whole window from its first page.
pub async fn walk(
    vendor: &dyn Vendor,
    connection: &Connection<'_>,
    window: &Window,
) -> Result<Vec<VendorRecord>, Failure> {
    let mut records = Vec::new();
    walk_from(vendor, connection, window, &mut Value::Null, &mut records).await?;
    Ok(records)
}
