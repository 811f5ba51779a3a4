//! The example binaries, for tests that run them as processes.
#![allow(dead_code, clippy::expect_used, unreachable_pub)]

use std::path::PathBuf;

/// The binary of example `name`, next to the running test's: `target/<profile>/deps/<test>` →
/// `target/<profile>/examples/<name>`. `cargo test` builds the examples before it runs
/// integration tests; a run selecting only one test does not, so this refuses a missing or
/// stale binary rather than test old code.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} does not exist: `cargo test` builds it, but a run selecting only this test does \
         not; run `cargo build --example {name} --all-features` first",
        binary.display()
    );
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(edited)) = (modified(&binary), modified(&source)) {
        assert!(
            built >= edited,
            "{} is older than {}: run `cargo build --example {name} --all-features` (or a \
             plain `cargo test`)",
            binary.display(),
            source.display()
        );
    }
    binary
}
