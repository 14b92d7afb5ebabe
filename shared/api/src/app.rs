//! How the application is assembled: the route families, the deployed functions and what each
//! one serves, and the local host's workers. Lambda functions (`functions/*`), `causeloop serve`,
//! the tests and the event replays all build their routers and workers here, so no two of them
//! can drift apart.

use crate::outbound::OutboundClient;
use crate::state::AppState;
use crate::workers::deliver::DeliverWorker;
use crate::workers::sync::{run_schedule, SyncWorker};
use crate::workers::{self, cluster};
use crate::{alerts, connectors, console, inbound, ingest, issues, keys, patterns, predictions, webhooks};
use axum::Router;
use causeloop_storage::QueueName;

/// A route family: one router, with the (METHOD, path) list `openapi.yaml` and `template.yaml`
/// are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ingest,
    Issues,
    Patterns,
    Connectors,
    Webhooks,
    Alerts,
    Inbound,
    /// The workspace's API keys (`/v1/keys`).
    Keys,
    /// The web console's static assets (`/` and `/console/*`), no API behind them.
    Console,
    /// Predictions and fix recommendations (`predictions.rs`).
    Insights,
}

impl Family {
    pub const ALL: [Family; 10] = [
        Family::Ingest,
        Family::Issues,
        Family::Patterns,
        Family::Connectors,
        Family::Webhooks,
        Family::Alerts,
        Family::Inbound,
        Family::Keys,
        Family::Console,
        Family::Insights,
    ];

    pub const fn operations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Family::Ingest => ingest::ROUTES,
            Family::Issues => issues::ROUTES,
            Family::Patterns => patterns::ROUTES,
            Family::Connectors => connectors::ROUTES,
            Family::Webhooks => webhooks::ROUTES,
            Family::Alerts => alerts::ROUTES,
            Family::Inbound => inbound::ROUTES,
            Family::Keys => keys::ROUTES,
            Family::Console => console::ROUTES,
            Family::Insights => predictions::ROUTES,
        }
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of route families, as a bit mask so that a function's set is a compile-time constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families(u16);

impl Families {
    pub const fn of(families: &[Family]) -> Families {
        let mut mask = 0;
        let mut index = 0;
        while index < families.len() {
            mask |= families[index].bit();
            index += 1;
        }
        Families(mask)
    }

    pub const ALL: Families = Families::of(&Family::ALL);

    pub const fn contains(self, family: Family) -> bool {
        self.0 & family.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |family| self.contains(*family))
    }

    /// The families' routers merged. Always inlined: a function's set is a constant, so each
    /// test below folds away and a Lambda binary links only the handlers it serves.
    #[inline(always)]
    pub fn routes(self) -> Router<AppState> {
        let mut router = Router::new();
        if self.contains(Family::Ingest) {
            router = router.merge(ingest::routes());
        }
        if self.contains(Family::Issues) {
            router = router.merge(issues::routes());
        }
        if self.contains(Family::Patterns) {
            router = router.merge(patterns::routes());
        }
        if self.contains(Family::Connectors) {
            router = router.merge(connectors::routes());
        }
        if self.contains(Family::Webhooks) {
            router = router.merge(webhooks::routes());
        }
        if self.contains(Family::Alerts) {
            router = router.merge(alerts::routes());
        }
        if self.contains(Family::Inbound) {
            router = router.merge(inbound::routes());
        }
        if self.contains(Family::Keys) {
            router = router.merge(keys::routes());
        }
        if self.contains(Family::Insights) {
            router = router.merge(predictions::routes());
        }
        if self.contains(Family::Console) {
            router = router.merge(console::routes());
        }
        router
    }

    /// Every (METHOD, path) the families serve.
    pub fn operations(self) -> Vec<(&'static str, &'static str)> {
        self.iter().flat_map(|family| family.operations().iter().copied()).collect()
    }
}

/// What a deployed function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Route families behind API Gateway.
    Http(Families),
    /// A worker on a queue's event source mapping.
    Worker(QueueName),
    /// A worker on a queue that also runs the minute schedule (EventBridge) feeding that queue.
    ScheduledWorker(QueueName),
}

/// The Lambda functions of `template.yaml`, by their binary names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Ingest,
    Issues,
    Connectors,
    Webhooks,
    Alerts,
    Cluster,
    Deliver,
    Keys,
    Console,
    Sync,
}

impl Function {
    pub const ALL: [Function; 10] = [
        Function::Ingest,
        Function::Issues,
        Function::Connectors,
        Function::Webhooks,
        Function::Alerts,
        Function::Cluster,
        Function::Deliver,
        Function::Keys,
        Function::Console,
        Function::Sync,
    ];

    /// The one table of which function serves what.
    pub const fn role(self) -> Role {
        match self {
            Function::Ingest => Role::Http(Families::of(&[Family::Ingest])),
            Function::Issues => Role::Http(Families::of(&[Family::Issues, Family::Patterns, Family::Insights])),
            Function::Connectors => Role::Http(Families::of(&[Family::Connectors])),
            Function::Webhooks => Role::Http(Families::of(&[Family::Webhooks])),
            Function::Alerts => Role::Http(Families::of(&[Family::Alerts, Family::Inbound])),
            Function::Cluster => Role::Worker(QueueName::Cluster),
            Function::Deliver => Role::Worker(QueueName::Delivery),
            // Key administration on its own: the only function that writes key records.
            Function::Keys => Role::Http(Families::of(&[Family::Keys])),
            // Static assets only, so it is granted no table or queue access at all.
            Function::Console => Role::Http(Families::of(&[Family::Console])),
            // Managed connectors' syncs, and the scheduler that starts them.
            Function::Sync => Role::ScheduledWorker(QueueName::Sync),
        }
    }

    /// The route families an HTTP function serves (none for a worker).
    pub const fn families(self) -> Families {
        match self.role() {
            Role::Http(families) => families,
            Role::Worker(_) | Role::ScheduledWorker(_) => Families(0),
        }
    }

    /// The binary's name, as `template.yaml`'s `BuildProperties: Binary` gives it.
    pub const fn binary(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::Issues => "issues",
            Function::Connectors => "connectors",
            Function::Webhooks => "webhooks",
            Function::Alerts => "alerts",
            Function::Cluster => "cluster",
            Function::Deliver => "deliver",
            Function::Keys => "keys",
            Function::Console => "console",
            Function::Sync => "sync",
        }
    }
}

/// A router finished for serving: `/health`, JSON 404/405, request ids and logs, the state.
pub fn serve(families: Families, state: AppState) -> Router {
    causeloop_http::app(families.routes(), state)
}

/// Every (METHOD, path) of every family, plus `/health` from the HTTP layer.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    let mut routes = vec![("GET", "/health")];
    routes.extend(Families::ALL.operations());
    routes
}

/// Runs every worker in this process, each polling its queue as Lambda's event source mappings
/// would: what `causeloop serve` hosts next to the routers.
pub fn spawn_workers(state: &AppState, outbound: OutboundClient) {
    spawn_cluster_worker(state);
    spawn_delivery_worker(state, outbound);
    spawn_sync_worker(state);
    spawn_scheduler(state, SCHEDULE_EVERY);
}

/// How often the scheduler looks for due syncs (EventBridge's `rate(1 minute)` on AWS).
pub const SCHEDULE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The sync worker polling the sync queue.
pub fn spawn_sync_worker(state: &AppState) {
    let worker = SyncWorker::new(state.clone());
    tokio::spawn(workers::poll_queue(state.queue.clone(), QueueName::Sync, move |batch| {
        let worker = worker.clone();
        async move { worker.handle_batch(batch).await }
    }));
}

/// The scheduler, every `every`, as EventBridge runs it on AWS.
pub fn spawn_scheduler(state: &AppState, every: std::time::Duration) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if let Err(err) = run_schedule(&state, causeloop_storage::clock::now_millis() as i64).await {
                tracing::warn!(error = %err, "the sync scheduler failed; it runs again next minute");
            }
        }
    });
}

/// The cluster worker polling the cluster queue.
pub fn spawn_cluster_worker(state: &AppState) {
    let cluster_state = state.clone();
    tokio::spawn(workers::poll_queue(state.queue.clone(), QueueName::Cluster, move |batch| {
        let state = cluster_state.clone();
        async move { cluster::handle_batch(&state, batch).await }
    }));
}

/// The delivery worker polling the delivery queue, its attempts sent through `outbound`.
pub fn spawn_delivery_worker(state: &AppState, outbound: OutboundClient) {
    let deliver = DeliverWorker::new(state.clone(), outbound);
    tokio::spawn(workers::poll_queue(state.queue.clone(), QueueName::Delivery, move |batch| {
        let deliver = deliver.clone();
        async move { deliver.handle_batch(batch).await }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_family_is_served_by_exactly_one_function() {
        let mut seen = Vec::new();
        for function in Function::ALL {
            seen.extend(function.families().iter());
        }
        seen.sort();
        assert_eq!(seen, Family::ALL.to_vec());
    }

    #[test]
    fn no_operation_belongs_to_two_families() {
        let all = Families::ALL.operations();
        let unique: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), unique.len());
    }
}
