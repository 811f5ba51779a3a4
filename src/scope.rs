//! Scope checks with a hierarchy: a broad scope may imply narrower ones (`mcp:admin` implies
//! `mcp:tools`), which the MCP specification asks servers to honour when deciding whether a
//! token suffices (2026-07-28, "Step-Up Authorization Flow").
//!
//! ```
//! use mcp_server_auth::scope::ScopeHierarchy;
//!
//! let hierarchy = ScopeHierarchy::new()
//!     .implies("mcp:admin", "mcp:write")
//!     .implies("mcp:write", "mcp:tools");
//! let granted = ["mcp:admin".to_owned()];
//! assert!(hierarchy.satisfies(&granted, "mcp:tools")); // through mcp:write
//! assert!(!hierarchy.satisfies(&["mcp:tools".to_owned()], "mcp:admin"));
//! ```

/// The refresh-token scope: access tokens do not carry it, so it is never required, and MCP
/// challenges must never ask for it (2026-07-28, SEP-2207).
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

/// A set of `broader implies narrower` rules, applied transitively. Cycles are harmless.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ScopeHierarchy {
    rules: Vec<(String, String)>,
}

impl ScopeHierarchy {
    /// No rules: every scope stands for itself only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the rule that `broader` implies `narrower`.
    pub fn implies(mut self, broader: impl Into<String>, narrower: impl Into<String>) -> Self {
        self.rules.push((broader.into(), narrower.into()));
        self
    }

    /// Whether the rules are empty.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, as `(broader, narrower)` pairs.
    pub fn rules(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }

    /// Whether the `granted` scopes include `required`, directly or through the rules.
    pub fn satisfies(&self, granted: &[String], required: &str) -> bool {
        if granted.iter().any(|g| g == required) {
            return true;
        }
        if self.rules.is_empty() {
            return false;
        }
        // Walk the rules backwards from `required`: which scopes would imply it? Each scope is
        // visited once, so the walk ends even with cycles.
        let mut implying: Vec<&str> = vec![required];
        let mut next = 0;
        while let Some(&scope) = implying.get(next) {
            next += 1;
            for (broader, narrower) in &self.rules {
                if narrower == scope && !implying.contains(&broader.as_str()) {
                    if granted.iter().any(|g| g == broader) {
                        return true;
                    }
                    implying.push(broader);
                }
            }
        }
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn granted(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn accessors_report_the_rules_in_order() {
        let empty = ScopeHierarchy::new();
        assert!(empty.is_empty());
        assert_eq!(empty.rules().count(), 0);
        let h = ScopeHierarchy::new()
            .implies("admin", "write")
            .implies("write", "read");
        assert!(!h.is_empty());
        assert_eq!(
            h.rules().collect::<Vec<_>>(),
            [("admin", "write"), ("write", "read")]
        );
    }

    #[test]
    fn hierarchy_table() {
        let h = ScopeHierarchy::new()
            .implies("admin", "write")
            .implies("write", "read")
            .implies("a", "b")
            .implies("b", "a");
        struct Case {
            name: &'static str,
            granted: &'static [&'static str],
            required: &'static str,
            expected: bool,
        }
        let cases = [
            Case {
                name: "direct",
                granted: &["read"],
                required: "read",
                expected: true,
            },
            Case {
                name: "one step",
                granted: &["write"],
                required: "read",
                expected: true,
            },
            Case {
                name: "transitive",
                granted: &["admin"],
                required: "read",
                expected: true,
            },
            Case {
                name: "not upward",
                granted: &["read"],
                required: "write",
                expected: false,
            },
            Case {
                name: "unrelated",
                granted: &["other"],
                required: "read",
                expected: false,
            },
            Case {
                name: "cycle",
                granted: &["a"],
                required: "b",
                expected: true,
            },
            Case {
                name: "cycle without grant",
                granted: &["c"],
                required: "b",
                expected: false,
            },
            Case {
                name: "empty grant",
                granted: &[],
                required: "read",
                expected: false,
            },
            Case {
                name: "case-sensitive",
                granted: &["READ"],
                required: "read",
                expected: false,
            },
        ];
        for case in cases {
            assert_eq!(
                h.satisfies(&granted(case.granted), case.required),
                case.expected,
                "{}",
                case.name
            );
        }
    }
}
