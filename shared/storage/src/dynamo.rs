//! The DynamoDB adapter of the table port.
//!
//! Attributes: `pk`, `sk` (keys), `gsi1pk`, `gsi1sk` (index `gsi1`, all attributes projected),
//! `expires_at` (number, the table's TTL attribute), `v` (version, number), `d` (entity JSON).

use crate::table::{
    Condition, Cursor, Index, IndexKey, Item, Key, Page, Query, SkRange, StoreError, Table, Write, MAX_BATCH_GET_KEYS,
};
use crate::unix_now;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

pub const GSI1: &str = "gsi1";
/// Rounds of a BatchGetItem whose answer leaves keys unprocessed (throttling, or the 16 MB
/// response limit) before the read counts as throttled.
const BATCH_GET_ROUNDS: u32 = 8;
pub const TTL_ATTRIBUTE: &str = "expires_at";

#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

type Attributes = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Maps an SDK error to the port's error, by the service's error code so that every operation
/// is classified the same way.
fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(err: SdkError<E>) -> StoreError {
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        _ => StoreError::Backend(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err))),
    }
}

fn build_err(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates the table as template.yaml declares it (used by tests and local tooling; in AWS
    /// the stack owns the table).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_err)
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_err)?;
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .global_secondary_indexes(gsi)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => return Ok(()),
            Err(err) => return Err(classify(err)),
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn key(pk: &str, sk: &str) -> Attributes {
        HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
    }
}

impl DynamoTable {
    /// One BatchGetItem of at most [`MAX_BATCH_GET_KEYS`] distinct keys, strongly consistent,
    /// asking again for whatever the service left unprocessed.
    async fn batch_get(&self, keys: &[&Key]) -> Result<Vec<Item>, StoreError> {
        let mut pending: Vec<Attributes> = keys.iter().map(|(pk, sk)| Self::key(pk, sk)).collect();
        let mut items = Vec::with_capacity(keys.len());
        for round in 0..BATCH_GET_ROUNDS {
            if round > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << round)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            let output =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(classify)?;
            if let Some(found) = output.responses().and_then(|responses| responses.get(&self.table)) {
                for attributes in found {
                    items.push(from_attributes(attributes)?);
                }
            }
            pending = output
                .unprocessed_keys()
                .and_then(|unprocessed| unprocessed.get(&self.table))
                .map(|left| left.keys().to_vec())
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
        }
        Err(StoreError::Throttled)
    }
}

fn to_attributes(item: &Item) -> Attributes {
    let mut attributes = DynamoTable::key(&item.pk, &item.sk);
    if let Some(index) = &item.gsi1 {
        attributes.insert("gsi1pk".into(), s(&index.pk));
        attributes.insert("gsi1sk".into(), s(&index.sk));
    }
    if let Some(at) = item.expires_at {
        attributes.insert(TTL_ATTRIBUTE.into(), n(at));
    }
    attributes.insert("v".into(), n(item.version));
    attributes.insert("d".into(), s(&item.data));
    attributes
}

fn from_attributes(attributes: &Attributes) -> Result<Item, StoreError> {
    let text = |name: &str| attributes.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| attributes.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
    let corrupt = || StoreError::Corrupt("item lacks pk, sk, v or d".into());
    Ok(Item {
        pk: text("pk").ok_or_else(corrupt)?,
        sk: text("sk").ok_or_else(corrupt)?,
        gsi1: text("gsi1pk").zip(text("gsi1sk")).map(|(pk, sk)| IndexKey { pk, sk }),
        expires_at: number(TTL_ATTRIBUTE),
        version: number("v").ok_or_else(corrupt)? as u64,
        data: text("d").ok_or_else(corrupt)?,
    })
}

/// The condition expression and its values for `condition`, if it needs one.
fn condition_expression(condition: Condition) -> Option<(String, Option<(String, AttributeValue)>)> {
    match condition {
        Condition::Always => None,
        Condition::NotExists => Some(("attribute_not_exists(pk)".into(), None)),
        Condition::Exists => Some(("attribute_exists(pk)".into(), None)),
        Condition::Version(v) => Some(("v = :expected_version".into(), Some((":expected_version".into(), n(v))))),
    }
}

fn transact_item(table: &str, write: Write) -> Result<TransactWriteItem, StoreError> {
    let builder = TransactWriteItem::builder();
    Ok(match write {
        Write::Put { item, condition } => {
            let mut put = Put::builder().table_name(table).set_item(Some(to_attributes(&item)));
            if let Some((expression, value)) = condition_expression(condition) {
                put = put.condition_expression(expression);
                if let Some((name, value)) = value {
                    put = put.expression_attribute_values(name, value);
                }
            }
            builder.put(put.build().map_err(build_err)?).build()
        }
        Write::Delete { pk, sk, condition } => {
            let mut delete = Delete::builder().table_name(table).set_key(Some(DynamoTable::key(&pk, &sk)));
            if let Some((expression, value)) = condition_expression(condition) {
                delete = delete.condition_expression(expression);
                if let Some((name, value)) = value {
                    delete = delete.expression_attribute_values(name, value);
                }
            }
            builder.delete(delete.build().map_err(build_err)?).build()
        }
        Write::Check { pk, sk, condition } => {
            let (expression, value) = condition_expression(condition)
                .unwrap_or_else(|| ("attribute_exists(pk) OR attribute_not_exists(pk)".into(), None));
            let mut check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(DynamoTable::key(&pk, &sk)))
                .condition_expression(expression);
            if let Some((name, value)) = value {
                check = check.expression_attribute_values(name, value);
            }
            builder.condition_check(check.build().map_err(build_err)?).build()
        }
    })
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let item = output.item.as_ref().map(from_attributes).transpose()?;
        Ok(item.filter(|item| !item.is_expired(unix_now())))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        // BatchGetItem refuses a request that names a key twice.
        let mut distinct: Vec<&Key> = keys.iter().collect();
        distinct.sort();
        distinct.dedup();
        let chunks = distinct.chunks(MAX_BATCH_GET_KEYS).map(|chunk| self.batch_get(chunk));
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(distinct.len());
        for chunk in futures_util::future::try_join_all(chunks).await? {
            found.extend(chunk.into_iter().map(|item| ((item.pk.clone(), item.sk.clone()), item)));
        }
        let now = unix_now();
        Ok(keys.iter().map(|key| found.get(key).filter(|item| !item.is_expired(now)).cloned()).collect())
    }

    async fn write(&self, write: Write) -> Result<(), StoreError> {
        match write {
            Write::Put { item, condition } => {
                let mut request = self.client.put_item().table_name(&self.table).set_item(Some(to_attributes(&item)));
                if let Some((expression, value)) = condition_expression(condition) {
                    request = request.condition_expression(expression);
                    if let Some((name, value)) = value {
                        request = request.expression_attribute_values(name, value);
                    }
                }
                request.send().await.map_err(classify)?;
            }
            Write::Delete { pk, sk, condition } => {
                let mut request = self.client.delete_item().table_name(&self.table).set_key(Some(Self::key(&pk, &sk)));
                if let Some((expression, value)) = condition_expression(condition) {
                    request = request.condition_expression(expression);
                    if let Some((name, value)) = value {
                        request = request.expression_attribute_values(name, value);
                    }
                }
                request.send().await.map_err(classify)?;
            }
            check @ Write::Check { .. } => self.transact(vec![check]).await?,
        }
        Ok(())
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let items = writes.into_iter().map(|write| transact_item(&self.table, write)).collect::<Result<Vec<_>, _>>()?;
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let condition_failed = err
                    .as_service_error()
                    .and_then(|service| match service {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                            cancelled,
                        ) => Some(
                            cancelled
                                .cancellation_reasons()
                                .iter()
                                // A conflict with another transaction on one of the items is a
                                // lost race too: the caller re-reads and decides again.
                                .any(|reason| matches!(reason.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))),
                        ),
                        _ => None,
                    })
                    .unwrap_or(false);
                if condition_failed {
                    Err(StoreError::ConditionFailed)
                } else {
                    Err(classify(err))
                }
            }
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let position = query.cursor.as_ref().map(|cursor| cursor.position_for(query)).transpose()?;
        let (pk_name, sk_name) = match query.index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let mut key_condition = "#pk = :pk".to_string();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&query.pk))
            .expression_attribute_values(":now", n(unix_now()))
            .filter_expression(format!("attribute_not_exists({TTL_ATTRIBUTE}) OR {TTL_ATTRIBUTE} > :now"))
            .scan_index_forward(!query.descending)
            .limit(query.limit.clamp(1, 1000) as i32);
        match &query.sk {
            SkRange::All => {}
            SkRange::Prefix(prefix) => {
                key_condition.push_str(" AND begins_with(#sk, :sk)");
                request =
                    request.expression_attribute_names("#sk", sk_name).expression_attribute_values(":sk", s(prefix));
            }
            SkRange::AtLeast(bound) => {
                key_condition.push_str(" AND #sk >= :sk");
                request =
                    request.expression_attribute_names("#sk", sk_name).expression_attribute_values(":sk", s(bound));
            }
        }
        request = request.key_condition_expression(key_condition);
        if query.index == Index::Gsi1 {
            request = request.index_name(GSI1).consistent_read(false);
        } else {
            request = request.consistent_read(true);
        }
        if let Some(position) = position {
            let mut start = Self::key(&position.pk, &position.sk);
            if let Some(index) = position.index {
                start.insert("gsi1pk".into(), s(index.pk));
                start.insert("gsi1sk".into(), s(index.sk));
            }
            request = request.set_exclusive_start_key(Some(start));
        }
        let output = request.send().await.map_err(classify)?;
        let items = output.items().iter().map(from_attributes).collect::<Result<Vec<_>, _>>()?;
        let next = match output.last_evaluated_key() {
            None => None,
            Some(last) => {
                let text = |name: &str| last.get(name).and_then(|v| v.as_s().ok()).cloned();
                let index = match query.index {
                    Index::Primary => None,
                    Index::Gsi1 => text("gsi1pk").zip(text("gsi1sk")).map(|(pk, sk)| IndexKey { pk, sk }),
                };
                Some(Cursor::encode(&crate::table::Position {
                    pk: text("pk").ok_or_else(|| StoreError::Corrupt("LastEvaluatedKey without pk".into()))?,
                    sk: text("sk").ok_or_else(|| StoreError::Corrupt("LastEvaluatedKey without sk".into()))?,
                    index,
                }))
            }
        };
        Ok(Page { items, next })
    }
}
