//! Outbound deliveries: one record per (event, endpoint), holding its payload, state and
//! attempts, under the endpoint's partition so that its history lists newest first by id.

use crate::connectors::encode;
use crate::repo::{Store, Versioned};
use crate::schema::{delivered_events_pk, deliveries_pk};
use crate::table::{Condition, Cursor, Item, Query, SkRange, StoreError, Write};
use causeloop_domain::delivery::{Delivery, DeliveryStatus, DELIVERY_RETENTION_SECONDS};
use causeloop_domain::{DeliveryId, WebhookId, WorkspaceId};

fn delivery_item(delivery: &Delivery, version: u64) -> Item {
    let created_unix = (delivery.created_at_ms / 1000) as i64;
    Item::new(
        deliveries_pk(delivery.workspace_id.as_str(), delivery.webhook_id.as_str()),
        delivery.id.as_str(),
        encode(delivery),
    )
    .expiring_at(created_unix + DELIVERY_RETENTION_SECONDS)
    .with_version(version)
}

/// Which delivery carries an event to an endpoint: one per (event, endpoint), whenever and
/// however often the event is emitted.
#[derive(serde::Serialize, serde::Deserialize)]
struct DeliveredEvent {
    delivery_id: DeliveryId,
}

impl Store {
    /// Creates the delivery of its event to its endpoint unless that event already has one
    /// there. Returns the stored record either way, so that a fan-out retried after a crash, or
    /// an event emitted again later (a client retrying a request whose answer was lost), carries
    /// on with the first delivery and its `webhook-id` instead of sending the event twice.
    pub async fn create_delivery(&self, delivery: &Delivery) -> Result<(Versioned<Delivery>, bool), StoreError> {
        let (ws, webhook) = (delivery.workspace_id.as_str(), delivery.webhook_id.as_str());
        let marker = Item::new(
            delivered_events_pk(ws, webhook),
            delivery.event_id.as_str(),
            encode(&DeliveredEvent { delivery_id: delivery.id.clone() }),
        )
        .expiring_at((delivery.created_at_ms / 1000) as i64 + DELIVERY_RETENTION_SECONDS);
        let created = self
            .table()
            .transact(vec![
                Write::Put { item: delivery_item(delivery, 1), condition: Condition::NotExists },
                Write::Put { item: marker, condition: Condition::NotExists },
            ])
            .await;
        match created {
            Ok(()) => Ok((Versioned { value: delivery.clone(), version: 1 }, true)),
            Err(StoreError::ConditionFailed) => {
                let first =
                    match self.table().get(&delivered_events_pk(ws, webhook), delivery.event_id.as_str()).await? {
                        Some(item) => {
                            serde_json::from_str::<DeliveredEvent>(&item.data)
                                .map_err(|err| StoreError::Corrupt(format!("delivered-event marker: {err}")))?
                                .delivery_id
                        }
                        None => delivery.id.clone(),
                    };
                let existing = self
                    .delivery(&delivery.workspace_id, &delivery.webhook_id, &first)
                    .await?
                    .ok_or_else(|| StoreError::Backend("delivery vanished after a failed create".into()))?;
                Ok((existing, false))
            }
            Err(err) => Err(err),
        }
    }

    pub async fn delivery(
        &self,
        ws: &WorkspaceId,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Option<Versioned<Delivery>>, StoreError> {
        self.read(&deliveries_pk(ws.as_str(), webhook.as_str()), id.as_str()).await
    }

    /// Writes `delivery` if the stored version is still `read_version`; returns the new version.
    pub async fn save_delivery(&self, delivery: &Delivery, read_version: u64) -> Result<u64, StoreError> {
        let version = read_version + 1;
        self.table()
            .write(Write::Put { item: delivery_item(delivery, version), condition: Condition::Version(read_version) })
            .await?;
        Ok(version)
    }

    /// The endpoint's deliveries, newest first, optionally only those in `status`, one page.
    pub async fn list_deliveries(
        &self,
        ws: &WorkspaceId,
        webhook: &WebhookId,
        status: Option<DeliveryStatus>,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Delivery>, Option<Cursor>), StoreError> {
        let query =
            Query::new(crate::Index::Primary, deliveries_pk(ws.as_str(), webhook.as_str())).descending().after(cursor);
        self.page_where(query, limit, |delivery: &Delivery| status.is_none_or(|wanted| delivery.status == wanted)).await
    }

    /// Deliveries of events created at or after `since_id`'s time, newest first, at most `max`.
    pub async fn deliveries_since(
        &self,
        ws: &WorkspaceId,
        webhook: &WebhookId,
        since_id: &DeliveryId,
        max: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let query = Query::new(crate::Index::Primary, deliveries_pk(ws.as_str(), webhook.as_str()))
            .sk(SkRange::AtLeast(since_id.to_string()))
            .descending();
        Ok(self.page_of(query, max).await?.0)
    }
}
