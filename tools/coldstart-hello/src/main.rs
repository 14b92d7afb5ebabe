//! The cold-start baseline (scripts/coldstart.sh): answers every event with a constant, and does
//! nothing at start-up but what lambda_runtime itself does.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(json!({"hello": "world"}))
    }))
    .await
}
