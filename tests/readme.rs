//! The README as a newcomer reads it (on a code host or the registry, where rustdoc's hidden
//! lines show): each example package (`crates/readme-*`, the first example among them) is one
//! of its code blocks byte for byte, and depends on exactly what the `cargo add` lines before
//! that block add; no Rust block hides a line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The fenced blocks of `markdown` whose info string starts with `lang`, without the fences.
fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.starts_with("```") && line[3..].starts_with(lang) => {
                current = Some(String::new());
            }
            Some(_) if line == "```" => found.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    found
}

/// What `cargo add` lines add: each crate with its features.
fn cargo_adds(script: &str) -> BTreeMap<String, Vec<String>> {
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in script.lines().filter_map(|l| l.strip_prefix("cargo add ")) {
        let (crates, features) = match line.split_once(" --features ") {
            Some((crates, features)) => (crates, features),
            None => (line, ""),
        };
        let crates: Vec<&str> = crates.split_whitespace().collect();
        for name in &crates {
            deps.entry((*name).to_owned()).or_default();
        }
        for feature in features.split([',', ' ']).filter(|f| !f.is_empty()) {
            // `crate/feature` when several crates are added at once.
            let (name, feature) = feature
                .split_once('/')
                .unwrap_or_else(|| (crates[0], feature));
            deps.get_mut(name).unwrap().push(feature.to_owned());
        }
    }
    deps.values_mut().for_each(|features| features.sort());
    deps
}

/// The `[dependencies]` of a manifest: each crate with its features.
fn manifest_deps(manifest: &str) -> BTreeMap<String, Vec<String>> {
    let manifest: toml::Table = manifest.parse().unwrap();
    manifest["dependencies"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, spec)| {
            let mut features: Vec<String> = spec
                .get("features")
                .and_then(|f| f.as_array())
                .map(|f| f.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            features.sort();
            (name.clone(), features)
        })
        .collect()
}

/// The README's example packages: `crates/readme-*`.
fn example_packages() -> Vec<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut found: Vec<String> = std::fs::read_dir(crates)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("readme-"))
        .collect();
    found.sort();
    found
}

#[test]
fn the_first_example_is_the_readme_example_package() {
    let readme = read("README.md");
    let first = &blocks(&readme, "rust")[0];
    assert_eq!(
        first,
        &read("crates/readme-example/src/main.rs"),
        "README.md's first Rust block and crates/readme-example/src/main.rs differ"
    );
}

#[test]
fn every_example_package_is_a_readme_block_with_the_dependencies_its_cargo_add_lines_add() {
    let readme = read("README.md");
    let packages = example_packages();
    assert!(packages.len() >= 2, "{packages:?}");
    for package in packages {
        let main = read(&format!("crates/{package}/src/main.rs"));
        let at = readme
            .find(&format!("```rust\n{main}```"))
            .unwrap_or_else(|| panic!("crates/{package}/src/main.rs is no README block"));
        // The `cargo add` lines for it come last before it.
        let before = &readme[..at];
        let install = blocks(before, "sh")
            .into_iter()
            .rev()
            .find(|b| b.contains("cargo add mcp-server-auth"))
            .unwrap_or_else(|| panic!("no cargo add lines before {package}'s block"));
        assert_eq!(
            cargo_adds(&install),
            manifest_deps(&read(&format!("crates/{package}/Cargo.toml"))),
            "{package}"
        );
    }
}

#[test]
fn no_rust_block_hides_a_line() {
    for block in blocks(&read("README.md"), "rust") {
        for line in block.lines() {
            let trimmed = line.trim_start();
            assert!(
                !(trimmed == "#" || trimmed.starts_with("# ")),
                "a hidden line shows on the README: {line:?}"
            );
        }
    }
}

#[test]
fn every_rust_block_runs() {
    let readme = read("README.md");
    for fence in readme.lines().filter(|l| l.starts_with("```rust")) {
        assert_eq!(fence, "```rust", "a README block rustdoc would not run");
    }
}

#[test]
fn the_readers_read_what_they_should() {
    let adds = cargo_adds(
        "cargo add a --features x\ncargo add b c --features c/y,b/z\ncargo add d --features p,q\n",
    );
    let expected: BTreeMap<String, Vec<String>> = [
        ("a", vec!["x"]),
        ("b", vec!["z"]),
        ("c", vec!["y"]),
        ("d", vec!["p", "q"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(adds, expected);
    assert_eq!(
        blocks("x\n```rust\nfn a() {}\n```\n```sh\nls\n```\n", "rust"),
        ["fn a() {}\n"]
    );
}
