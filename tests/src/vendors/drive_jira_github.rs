//! Drives a [`Vendor`] against a fake over real sockets the way the connector worker does: send
//! the request for the cursor, read the answer, checkpoint the next cursor, until the window is
//! exhausted or a page fails.

use super::drive_pd_sn_dd::{client, now_millis, send};
use causeloop_connectors::{Connection, Cursor, Failure, Page, Vendor, VendorRecord, Window};
use serde_json::Value;

/// Sends the request for `cursor` and reads its answer.
pub async fn step(
    vendor: &dyn Vendor,
    connection: &Connection<'_>,
    window: &Window,
    cursor: &Cursor,
) -> Result<Page, Failure> {
    let request = vendor.request(connection, window, cursor)?;
    let response = send(&client(), &request).await?;
    vendor.read(connection, window, cursor, &response, now_millis())
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
