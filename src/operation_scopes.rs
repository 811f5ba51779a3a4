//! Which scopes each MCP operation needs, and which methods need no token: the data of the
//! per-operation policy ([`policy`](crate::policy) applies it after the token is verified).
//! Also at [`policy::OperationScopes`](crate::policy::OperationScopes).

use crate::operation::{McpOperation, McpOperations};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Method(String),
    Tool(String),
    Prompt(String),
    Resource(String),
    ResourcePrefix(String),
}

/// Scope requirements per operation, and the methods allowed without a token. Rules
/// accumulate: an operation needs the scopes of every rule that matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct OperationScopes {
    rules: Vec<(Target, String)>,
    anonymous: Vec<String>,
}

impl OperationScopes {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// `tools/call` of `tool` needs `scope`.
    pub fn tool(self, tool: impl Into<String>, scope: impl Into<String>) -> Self {
        self.rule(Target::Tool(tool.into()), scope)
    }

    /// `prompts/get` of `prompt` needs `scope`.
    pub fn prompt(self, prompt: impl Into<String>, scope: impl Into<String>) -> Self {
        self.rule(Target::Prompt(prompt.into()), scope)
    }

    /// `resources/read` (and `subscribe`/`unsubscribe`) of exactly `uri` needs `scope`.
    pub fn resource(self, uri: impl Into<String>, scope: impl Into<String>) -> Self {
        self.rule(Target::Resource(uri.into()), scope)
    }

    /// `resources/read` (and `subscribe`/`unsubscribe`) of any URI starting with `prefix`
    /// needs `scope`.
    pub fn resource_prefix(self, prefix: impl Into<String>, scope: impl Into<String>) -> Self {
        self.rule(Target::ResourcePrefix(prefix.into()), scope)
    }

    /// Every call of `method` needs `scope`.
    pub fn method(self, method: impl Into<String>, scope: impl Into<String>) -> Self {
        self.rule(Target::Method(method.into()), scope)
    }

    /// `method` may be called without any token (for example `initialize` or
    /// `notifications/initialized`). A request presenting a token is still checked. Off by
    /// default: every method needs a token.
    pub fn allow_anonymous(mut self, method: impl Into<String>) -> Self {
        self.anonymous.push(method.into());
        self
    }

    fn rule(mut self, target: Target, scope: impl Into<String>) -> Self {
        self.rules.push((target, scope.into()));
        self
    }

    /// Whether some method may be called without a token.
    pub fn has_anonymous(&self) -> bool {
        !self.anonymous.is_empty()
    }

    /// Whether there are no rules and no anonymous methods (operations need not be read).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.anonymous.is_empty()
    }

    /// Every scope named by a rule, for validation and metadata.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|(_, scope)| scope.as_str())
    }

    /// The scopes `operation` needs, in rule order, possibly repeated.
    pub fn required<'a>(
        &'a self,
        operation: &'a McpOperation,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.rules.iter().filter_map(move |(target, scope)| {
            let name = operation.name();
            let matches = match target {
                Target::Method(method) => operation.method() == method,
                Target::Tool(tool) => {
                    operation.method() == "tools/call" && name == Some(tool.as_str())
                }
                Target::Prompt(prompt) => {
                    operation.method() == "prompts/get" && name == Some(prompt.as_str())
                }
                Target::Resource(uri) => {
                    is_resource_method(operation) && name == Some(uri.as_str())
                }
                Target::ResourcePrefix(prefix) => {
                    is_resource_method(operation)
                        && name.is_some_and(|n| n.starts_with(prefix.as_str()))
                }
            };
            matches.then_some(scope.as_str())
        })
    }

    /// Whether every operation may run without a token (and there is at least one).
    pub fn all_anonymous(&self, operations: &McpOperations) -> bool {
        !operations.is_empty()
            && operations
                .iter()
                .all(|op| self.anonymous.iter().any(|m| m == op.method()))
    }
}

fn is_resource_method(operation: &McpOperation) -> bool {
    matches!(
        operation.method(),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_their_operations_only() {
        let scopes = OperationScopes::new()
            .tool("admin_reset", "mcp:admin")
            .prompt("secret_prompt", "prompts:secret")
            .resource("file:///a", "files:a")
            .resource_prefix("file:///dir/", "files:dir")
            .method("tools/list", "mcp:list")
            .method("tools/call", "mcp:call");
        let required = |method: &str, name: Option<&str>| {
            let op = McpOperation::new(method, name);
            scopes.required(&op).map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(
            required("tools/call", Some("admin_reset")),
            ["mcp:admin", "mcp:call"]
        );
        assert_eq!(required("tools/call", Some("echo")), ["mcp:call"]);
        assert_eq!(
            required("prompts/get", Some("secret_prompt")),
            ["prompts:secret"]
        );
        assert_eq!(
            required("prompts/get", Some("admin_reset")),
            Vec::<String>::new()
        );
        assert_eq!(required("resources/read", Some("file:///a")), ["files:a"]);
        assert_eq!(
            required("resources/subscribe", Some("file:///dir/x")),
            ["files:dir"]
        );
        assert_eq!(
            required("resources/read", Some("file:///a/b")),
            Vec::<String>::new()
        );
        assert_eq!(
            required("resources/read", Some("file:///di")),
            Vec::<String>::new()
        );
        assert_eq!(required("tools/list", None), ["mcp:list"]);
        assert_eq!(required("ping", None), Vec::<String>::new());
    }
}
