//! The one optimistic-update loop: read a versioned record, decide, write on the condition that
//! the version is still the one read; when another writer got there first, read again.

use crate::table::StoreError;
use std::future::Future;

/// Attempts before an update gives up with [`StoreError::Contended`]. Each lost race means
/// another writer made progress, so a handful suffices even for a hot Pattern record.
pub const UPDATE_ATTEMPTS: usize = 16;

/// Runs `attempt` until it ends in anything but [`StoreError::ConditionFailed`] — its
/// conditional write lost a race — at most [`UPDATE_ATTEMPTS`] times. Each attempt must read
/// what it writes afresh, so a retry decides on the state that won.
///
/// `attempt` is a closure returning a future (`|| async move { ... }` over references) rather
/// than an async closure: the futures of async closures are not yet provably `Send` for every
/// lifetime, which axum handlers and spawned workers need.
pub async fn update_with_retries<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    for _ in 0..UPDATE_ATTEMPTS {
        match attempt().await {
            Err(StoreError::ConditionFailed) => continue,
            done => return done,
        }
    }
    Err(StoreError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_lost_races_and_names_contention_when_they_never_stop() {
        let mut calls = 0;
        let won = update_with_retries(|| {
            calls += 1;
            let call = calls;
            async move {
                if call < 3 {
                    Err(StoreError::ConditionFailed)
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        assert_eq!(won.unwrap(), 3);

        let mut calls = 0;
        let lost: Result<(), _> = update_with_retries(|| {
            calls += 1;
            async { Err(StoreError::ConditionFailed) }
        })
        .await;
        assert!(matches!(lost, Err(StoreError::Contended)));
        assert_eq!(calls, UPDATE_ATTEMPTS);
    }

    #[tokio::test]
    async fn other_errors_end_the_update_at_once() {
        let mut calls = 0;
        let failed: Result<(), _> = update_with_retries(|| {
            calls += 1;
            async { Err(StoreError::Throttled) }
        })
        .await;
        assert!(matches!(failed, Err(StoreError::Throttled)));
        assert_eq!(calls, 1);
    }
}
