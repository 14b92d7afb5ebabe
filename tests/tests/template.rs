//! `template.yaml` routes every operation of the router to the function that serves it: each
//! route family's `ROUTES` are exactly the HttpApi events of its function, so a route added in
//! code and forgotten in the template (or sent to the wrong Lambda) fails here, not in AWS.

use std::collections::BTreeSet;

/// (binary, METHOD, path) of every HttpApi event. The template writes each event's properties
/// on one line (`Properties: {ApiId: ..., Method: GET, Path: "/v1/..."}`) under a function whose
/// `BuildProperties` name its `Binary`, which this reads without a YAML dependency.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    let mut binary: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            binary = None; // a new resource
        }
        if let Some(name) = line.trim().strip_prefix("Binary:") {
            binary = Some(name.trim().to_string());
        }
        let Some(properties) = line.trim().strip_prefix("Properties: {").filter(|p| p.contains("Method:")) else {
            continue;
        };
        let field = |name: &str| {
            properties
                .split(", ")
                .find_map(|part| part.trim_end_matches('}').strip_prefix(name))
                .map(|value| value.trim().trim_matches('"').to_string())
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        let function = binary.clone().unwrap_or_else(|| panic!("an HttpApi event outside a function: {line}"));
        routes.insert((function, field("Method:"), field("Path:")));
    }
    routes
}

/// Path parameters are positional: their names may differ between the router and API Gateway.
fn shape(path: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { "{}" } else { segment }).collect::<Vec<_>>().join("/")
}

#[test]
fn every_route_goes_to_the_function_of_its_family() {
    use causeloop_api::app::{route_table, Function};
    let mut expected = BTreeSet::new();
    for function in Function::ALL {
        for (method, path) in function.families().operations() {
            expected.insert((function.binary().to_string(), method.to_string(), shape(path)));
        }
    }
    let routed: BTreeSet<_> = route_table().into_iter().filter(|(_, path)| *path != "/health").collect();
    assert_eq!(expected.len(), routed.len(), "every routed operation belongs to one family");
    let declared: BTreeSet<_> =
        template_routes().into_iter().map(|(binary, method, path)| (binary, method, shape(&path))).collect();
    let missing: Vec<_> = expected.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in template.yaml: {missing:?}\nnot in the router: {extra:?}");
}

#[test]
fn the_template_deploys_exactly_the_functions_of_the_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let deployed: BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Binary:"))
        .map(|name| name.trim().to_string())
        .collect();
    let table: BTreeSet<String> =
        causeloop_api::app::Function::ALL.iter().map(|function| function.binary().to_string()).collect();
    assert_eq!(deployed, table);
}
