//! The `keys` function: the route families `causeloop_api::app::Function::Keys` serves, behind API
//! Gateway.

use causeloop_api::app::{Families, Function};

const FAMILIES: Families = Function::Keys.families();

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    causeloop_api::lambda::serve_http(FAMILIES.routes()).await
}
