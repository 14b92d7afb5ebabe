//! One contract, two adapters: every case runs against the embedded SQLite store and against
//! DynamoDB + SQS as served by moto (started by `scripts/test.sh`, which exports `MOTO_ENDPOINT`).
//!
//! moto is not AWS. Where it differs in a way these cases could notice, the case says so.

#![cfg(all(feature = "embedded", feature = "aws"))]

use causeloop_domain::issue::Issue;
use causeloop_domain::{IssueStatus, KeyId, ScopeSet, Severity, WorkspaceId};
use causeloop_storage::repo::{ApiKeyRecord, IssueFilter};
use causeloop_storage::sqlite::SqliteStore;
use causeloop_storage::table::MAX_TRANSACTION_WRITES;
use causeloop_storage::{
    unix_now, Condition, Cursor, Index, Item, OutMessage, Query, Queue, QueueName, SkRange, Store, StoreError, Table,
    Write,
};
use std::sync::Arc;

mod common;
use common::{dynamo, moto_endpoint};

/// Runs a table case on both adapters.
macro_rules! table_contract {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $case(Arc::new(SqliteStore::in_memory().unwrap())).await;
            }
            #[tokio::test]
            async fn dynamodb() {
                if let Some(endpoint) = moto_endpoint() {
                    $case(dynamo(&endpoint).await).await;
                }
            }
        }
    };
}

macro_rules! queue_contract {
    ($name:ident, $case:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $case(Arc::new(SqliteStore::in_memory().unwrap())).await;
            }
            #[tokio::test]
            async fn sqs() {
                if let Some(endpoint) = moto_endpoint() {
                    $case(common::sqs(&endpoint).await).await;
                }
            }
        }
    };
}

fn item(pk: &str, sk: &str, data: &str) -> Item {
    Item::new(pk, sk, data.to_string())
}

async fn put_get_and_conditions(table: Arc<dyn Table>) {
    assert_eq!(table.get("P", "a").await.unwrap(), None);
    table.write(Write::Put { item: item("P", "a", "1"), condition: Condition::NotExists }).await.unwrap();
    let stored = table.get("P", "a").await.unwrap().unwrap();
    assert_eq!((stored.data.as_str(), stored.version), ("1", 1));

    let again = table.write(Write::Put { item: item("P", "a", "2"), condition: Condition::NotExists }).await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");
    let stale =
        table.write(Write::Put { item: item("P", "a", "2").with_version(3), condition: Condition::Version(2) }).await;
    assert!(matches!(stale, Err(StoreError::ConditionFailed)), "{stale:?}");
    table
        .write(Write::Put { item: item("P", "a", "2").with_version(2), condition: Condition::Version(1) })
        .await
        .unwrap();
    assert_eq!(table.get("P", "a").await.unwrap().unwrap().data, "2");

    let missing = table.write(Write::Put { item: item("P", "zz", "x"), condition: Condition::Exists }).await;
    assert!(matches!(missing, Err(StoreError::ConditionFailed)));
    let wrong_delete =
        table.write(Write::Delete { pk: "P".into(), sk: "a".into(), condition: Condition::Version(1) }).await;
    assert!(matches!(wrong_delete, Err(StoreError::ConditionFailed)));
    table.write(Write::Delete { pk: "P".into(), sk: "a".into(), condition: Condition::Version(2) }).await.unwrap();
    assert_eq!(table.get("P", "a").await.unwrap(), None);
}
table_contract!(put_get_and_conditions_hold, put_get_and_conditions);

async fn transactions_are_all_or_nothing(table: Arc<dyn Table>) {
    table.write(Write::Put { item: item("T", "exists", "x"), condition: Condition::Always }).await.unwrap();
    let failed = table
        .transact(vec![
            Write::Put { item: item("T", "new-1", "y"), condition: Condition::NotExists },
            Write::Put { item: item("T", "new-2", "y"), condition: Condition::NotExists },
            Write::Check { pk: "T".into(), sk: "exists".into(), condition: Condition::NotExists },
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::ConditionFailed)), "{failed:?}");
    assert_eq!(table.get("T", "new-1").await.unwrap(), None, "nothing of a failed transaction is written");
    assert_eq!(table.get("T", "new-2").await.unwrap(), None);

    let writes: Vec<Write> = (0..MAX_TRANSACTION_WRITES)
        .map(|n| Write::Put { item: item("T", &format!("bulk-{n:03}"), "z"), condition: Condition::NotExists })
        .collect();
    table.transact(writes).await.unwrap();
    assert!(table.get("T", "bulk-099").await.unwrap().is_some());
}
table_contract!(transactions_are_all_or_nothing_up_to_the_limit, transactions_are_all_or_nothing);

async fn many_reads_align_with_their_keys(table: Arc<dyn Table>) {
    // 250 keys: three BatchGetItem rounds on DynamoDB; every other item exists; one key repeats
    // (BatchGetItem itself refuses duplicates, the port does not); one item has expired.
    let mut keys = Vec::new();
    for n in 0..250 {
        let sk = format!("k-{n:03}");
        if n % 2 == 0 {
            table
                .write(Write::Put { item: item("M", &sk, &n.to_string()), condition: Condition::Always })
                .await
                .unwrap();
        }
        keys.push(("M".to_string(), sk));
    }
    keys.push(("M".to_string(), "k-004".to_string()));
    let gone = item("M", "expired", "x").expiring_at(unix_now() - 10);
    table.write(Write::Put { item: gone, condition: Condition::Always }).await.unwrap();
    keys.push(("M".to_string(), "expired".to_string()));

    let found = table.get_many(&keys).await.unwrap();
    assert_eq!(found.len(), keys.len());
    for (n, got) in found.iter().take(250).enumerate() {
        match got {
            Some(got) => assert_eq!((n % 2, got.sk.as_str(), got.data.clone()), (0, keys[n].1.as_str(), n.to_string())),
            None => assert_eq!(n % 2, 1, "item {n} exists"),
        }
    }
    assert_eq!(found[250].as_ref().map(|item| item.data.as_str()), Some("4"));
    assert_eq!(found[251], None, "an expired item is absent");
    assert!(table.get_many(&[]).await.unwrap().is_empty());
}
table_contract!(get_many_answers_in_key_order, many_reads_align_with_their_keys);

async fn collect(table: &Arc<dyn Table>, query: Query) -> Vec<String> {
    let mut seen = Vec::new();
    let mut query = query;
    loop {
        let page = table.query(&query).await.unwrap();
        assert!(page.items.len() <= query.limit);
        seen.extend(page.items.into_iter().map(|item| item.sk));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return seen,
        }
    }
}

async fn queries_paginate_in_order(table: Arc<dyn Table>) {
    for n in 0..25 {
        table
            .write(Write::Put { item: item("Q", &format!("A#{n:02}"), "{}"), condition: Condition::Always })
            .await
            .unwrap();
    }
    table.write(Write::Put { item: item("Q", "B#00", "{}"), condition: Condition::Always }).await.unwrap();
    table.write(Write::Put { item: item("Q2", "A#99", "{}"), condition: Condition::Always }).await.unwrap();

    let ascending = collect(&table, Query::new(Index::Primary, "Q").sk(SkRange::Prefix("A#".into())).limit(7)).await;
    assert_eq!(ascending, (0..25).map(|n| format!("A#{n:02}")).collect::<Vec<_>>());
    let descending =
        collect(&table, Query::new(Index::Primary, "Q").sk(SkRange::Prefix("A#".into())).descending().limit(10)).await;
    assert_eq!(descending, (0..25).rev().map(|n| format!("A#{n:02}")).collect::<Vec<_>>());
    let at_least =
        collect(&table, Query::new(Index::Primary, "Q").sk(SkRange::AtLeast("A#20".into())).limit(100)).await;
    assert_eq!(at_least.len(), 6, "A#20..A#24 and B#00: {at_least:?}");
}
table_contract!(queries_paginate_in_order_without_gaps_or_repeats, queries_paginate_in_order);

async fn gsi_orders_and_paginates(table: Arc<dyn Table>) {
    // Equal index sort keys on purpose: pagination must still visit each item exactly once.
    for n in 0..12 {
        let sk = format!("2026-01-0{}#x", n % 4);
        table
            .write(Write::Put {
                item: item(&format!("E#{n:02}"), "META", "{}").with_gsi1("G", sk),
                condition: Condition::Always,
            })
            .await
            .unwrap();
    }
    let mut pks = Vec::new();
    let mut query = Query::new(Index::Gsi1, "G").descending().limit(5);
    let mut last_index_sk: Option<String> = None;
    loop {
        let page = table.query(&query).await.unwrap();
        for found in &page.items {
            let index_sk = found.gsi1.as_ref().unwrap().sk.clone();
            if let Some(previous) = &last_index_sk {
                assert!(&index_sk <= previous, "descending by index sort key");
            }
            last_index_sk = Some(index_sk);
            pks.push(found.pk.clone());
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    pks.sort();
    assert_eq!(pks, (0..12).map(|n| format!("E#{n:02}")).collect::<Vec<_>>());
}
table_contract!(gsi_queries_order_and_paginate, gsi_orders_and_paginates);

async fn cursors_cannot_cross_partitions(table: Arc<dyn Table>) {
    for n in 0..3 {
        table
            .write(Write::Put { item: item("WS#a", &format!("ISS#{n}"), "{}"), condition: Condition::Always })
            .await
            .unwrap();
        table
            .write(Write::Put { item: item("WS#b", &format!("ISS#{n}"), "{}"), condition: Condition::Always })
            .await
            .unwrap();
    }
    let page = table.query(&Query::new(Index::Primary, "WS#a").limit(1)).await.unwrap();
    let foreign = Query::new(Index::Primary, "WS#b").limit(1).after(page.next.clone());
    assert!(matches!(table.query(&foreign).await, Err(StoreError::InvalidCursor)));
    let garbage = Query::new(Index::Primary, "WS#a").after(Some(Cursor::from_client("not-a-cursor")));
    assert!(matches!(table.query(&garbage).await, Err(StoreError::InvalidCursor)));
    let wrong_index = Query::new(Index::Gsi1, "WS#a").after(page.next);
    assert!(matches!(table.query(&wrong_index).await, Err(StoreError::InvalidCursor)));
}
table_contract!(cursors_cannot_cross_partitions_or_indexes, cursors_cannot_cross_partitions);

async fn expired_items_are_invisible(table: Arc<dyn Table>) {
    let past = unix_now() - 10;
    let future = unix_now() + 3600;
    table
        .write(Write::Put { item: item("X", "old", "{}").expiring_at(past), condition: Condition::Always })
        .await
        .unwrap();
    table
        .write(Write::Put { item: item("X", "new", "{}").expiring_at(future), condition: Condition::Always })
        .await
        .unwrap();
    assert_eq!(table.get("X", "old").await.unwrap(), None);
    assert_eq!(table.get("X", "new").await.unwrap().unwrap().expires_at, Some(future));
    assert_eq!(collect(&table, Query::new(Index::Primary, "X")).await, vec!["new".to_string()]);
}
table_contract!(expired_items_are_invisible_to_reads, expired_items_are_invisible);

async fn repositories_round_trip(table: Arc<dyn Table>) {
    let store = Store::new(table);
    let now = "2026-01-01T00:00:00.000Z";
    let ws = store.ensure_workspace("acme", WorkspaceId::random(1, [1; 10]), now).await.unwrap();
    let same = store.ensure_workspace("acme", WorkspaceId::random(2, [2; 10]), now).await.unwrap();
    assert_eq!(ws, same, "a slug names one workspace");
    assert_eq!(store.workspaces().await.unwrap(), vec![ws.clone()]);

    let issued = causeloop_domain::keys::issue_key([5; 32], [6; 32]);
    let record = ApiKeyRecord {
        key_id: KeyId::random(1, [3; 10]),
        workspace_id: ws.id.clone(),
        scopes: ScopeSet::all(),
        hint: issued.hint.clone(),
        key_hash: issued.key_hash.clone(),
        wrapped_webhook_secret: issued.wrapped_webhook_secret.clone(),
        created_at: now.into(),
        revoked_at: None,
    };
    store.insert_key(&record).await.unwrap();
    assert!(matches!(store.insert_key(&record).await, Err(StoreError::ConditionFailed)), "ids and hashes are unique");
    assert_eq!(store.key_by_hash(&issued.key_hash).await.unwrap(), Some(record.clone()));
    assert_eq!(store.list_keys(Some(&ws.id)).await.unwrap().len(), 1);
    let revoked = store.revoke_key(&record.key_id, now).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(store.key_by_hash(&issued.key_hash).await.unwrap(), None, "revoked keys stop authenticating");
    assert!(store.list_keys(None).await.unwrap()[0].revoked_at.is_some());

    let mut ids = Vec::new();
    for n in 0..9 {
        let record = causeloop_domain::ingest::normalize_record(&serde_json::json!({
            "source": if n % 3 == 0 { "jira" } else { "custom_api" },
            "external_id": format!("e{n}"),
            "title": format!("failure {n}"),
            "severity": if n % 2 == 0 { "p1" } else { "p4" },
        }))
        .unwrap();
        let (issue, _) =
            Issue::apply(None, &ws.id, &record, &format!("evt{n}"), &format!("2026-01-01T00:00:0{n}.000Z"));
        store.save_issue(&issue, None).await.unwrap();
        assert!(matches!(store.save_issue(&issue, None).await, Err(StoreError::ConditionFailed)));
        ids.push(issue.id);
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.list_issues(&ws.id, &IssueFilter::default(), 4, cursor).await.unwrap();
        assert!(page.len() <= 4);
        listed.extend(page.into_iter().map(|issue| issue.id));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, ids.iter().rev().cloned().collect::<Vec<_>>(), "newest first, each once");

    let filter = IssueFilter { source: Some("jira".into()), severity: Some(Severity::P1), ..Default::default() };
    let (jira_p1, next) = store.list_issues(&ws.id, &filter, 10, None).await.unwrap();
    assert_eq!(jira_p1.len(), 2, "e0 and e6");
    assert!(next.is_none());
    let since = IssueFilter {
        since: Some("2026-01-01T00:00:07.000Z".into()),
        status: Some(IssueStatus::Open),
        ..Default::default()
    };
    assert_eq!(store.list_issues(&ws.id, &since, 10, None).await.unwrap().0.len(), 2);
}
table_contract!(repositories_round_trip_on_the_port, repositories_round_trip);

async fn standard_queue_redelivers(queue: Arc<dyn Queue>) {
    let messages = (0..13).map(|n| OutMessage::standard(format!("m{n}"))).collect();
    queue.send_batch(QueueName::Delivery, messages).await.unwrap();
    let mut deleted = std::collections::BTreeSet::new();
    let mut m0_receive_counts = Vec::new();
    for _ in 0..20 {
        for message in queue.receive(QueueName::Delivery, 10, 30).await.unwrap() {
            if message.body == "m0" && m0_receive_counts.is_empty() {
                // Released, not deleted: it must come back with a higher receive count.
                m0_receive_counts.push(message.receive_count);
                queue.change_visibility(QueueName::Delivery, &message.receipt, 0).await.unwrap();
                continue;
            }
            if message.body == "m0" {
                m0_receive_counts.push(message.receive_count);
            } else {
                assert_eq!(message.receive_count, 1, "{} was never released", message.body);
            }
            queue.delete(QueueName::Delivery, &message.receipt).await.unwrap();
            deleted.insert(message.body);
        }
        if deleted.len() == 13 {
            break;
        }
    }
    assert_eq!(deleted.len(), 13, "{deleted:?}");
    assert_eq!(m0_receive_counts, vec![1, 2]);
    assert!(queue.receive(QueueName::Delivery, 10, 30).await.unwrap().is_empty(), "deleted messages stay deleted");
}
queue_contract!(standard_queue_redelivers_what_is_not_deleted, standard_queue_redelivers);

async fn fifo_keeps_group_order_and_dedups(queue: Arc<dyn Queue>) {
    let messages = vec![
        OutMessage::fifo("a1".into(), "ws_a", "a1"),
        OutMessage::fifo("b1".into(), "ws_b", "b1"),
        OutMessage::fifo("a2".into(), "ws_a", "a2"),
        OutMessage::fifo("a1-again".into(), "ws_a", "a1"),
    ];
    queue.send_batch(QueueName::Cluster, messages).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..10 {
        let batch = queue.receive(QueueName::Cluster, 10, 30).await.unwrap();
        if batch.is_empty() && order.len() >= 3 {
            break;
        }
        for message in batch {
            order.push(message.body.clone());
            queue.delete(QueueName::Cluster, &message.receipt).await.unwrap();
        }
    }
    assert!(!order.contains(&"a1-again".to_string()), "deduplicated within the window: {order:?}");
    let a: Vec<_> = order.iter().filter(|body| body.starts_with('a')).collect();
    assert_eq!(a, vec!["a1", "a2"], "one group is delivered in order");
    assert!(order.contains(&"b1".to_string()));
}
queue_contract!(fifo_keeps_group_order_and_deduplicates, fifo_keeps_group_order_and_dedups);

async fn poison_messages_reach_the_dead_letter_queue(queue: Arc<dyn Queue>) {
    queue.send_batch(QueueName::Delivery, vec![OutMessage::standard("poison".into())]).await.unwrap();
    let mut receives = 0;
    let limit = QueueName::Delivery.max_receives() as usize;
    for _ in 0..limit * 2 {
        let batch = queue.receive(QueueName::Delivery, 10, 0).await.unwrap();
        if batch.is_empty() {
            if queue.dead_letter_count(QueueName::Delivery).await.unwrap() == 1 {
                break;
            }
            continue;
        }
        receives += batch.len();
    }
    assert_eq!(receives, limit, "received max-receive-count times, then dead-lettered");
    assert_eq!(queue.dead_letter_count(QueueName::Delivery).await.unwrap(), 1);
}
queue_contract!(
    poison_messages_reach_the_dead_letter_queue_after_max_receives,
    poison_messages_reach_the_dead_letter_queue
);
