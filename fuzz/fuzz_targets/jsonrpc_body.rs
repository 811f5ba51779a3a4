//! JSON-RPC bodies → `McpOperation`s → the scopes an `OperationScopes` policy requires.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcp_server_auth::operation::operations_from_body;
use mcp_server_auth::policy::OperationScopes;
use serde_json::Value;

static POLICY: LazyLock<OperationScopes> = LazyLock::new(|| {
    OperationScopes::new()
        .tool("admin", "admin:write")
        .prompt("secret", "prompts:secret")
        .resource("file:///etc/passwd", "files:root")
        .resource_prefix("file:///", "files:read")
        .method("tools/list", "tools:read")
        .allow_anonymous("initialize")
});

fn has_name(method: &str) -> bool {
    matches!(
        method,
        "tools/call"
            | "prompts/get"
            | "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
    )
}

fuzz_target!(|body: &[u8]| {
    let operations = operations_from_body(body);
    for op in &operations {
        if op.name().is_some() {
            assert!(has_name(op.method()), "name taken for {:?}", op.method());
        }
        let required: Vec<&str> = POLICY.required(op).collect();
        if op.method() == "tools/call" && op.name() == Some("admin") {
            assert!(required.contains(&"admin:write"));
        }
        if has_name(op.method())
            && op.method().starts_with("resources/")
            && op.name().is_some_and(|n| n.starts_with("file:///"))
        {
            assert!(required.contains(&"files:read"));
        }
    }
    // An independent reading: one operation per object with a string `method`.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => {
            let expected = items
                .iter()
                .filter(|v| v.get("method").is_some_and(Value::is_string))
                .count();
            assert_eq!(operations.len(), expected);
        }
        Ok(value) => {
            let method = value.get("method").and_then(Value::as_str);
            assert_eq!(operations.len(), usize::from(method.is_some()));
            if let (Some(m), Some(op)) = (method, operations.first()) {
                assert_eq!(op.method(), m);
            }
        }
        Err(_) => assert!(operations.is_empty()),
    }
});
