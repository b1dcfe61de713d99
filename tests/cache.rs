//! The component cache: each component is compiled once, entries are used only for their own
//! component and only when intact, and only from a directory no one else may write.

use std::fs;
use std::path::{Path, PathBuf};

use wasmig_engine::{ComponentCache, Limits, Runtime};
use wasmig_tests::{Backend, Sandbox, blog_v1, component};

/// Every entry below `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for engine_dir in fs::read_dir(dir).into_iter().flatten().flatten() {
        for entry in fs::read_dir(engine_dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}

fn runtime_with(cache: &Path) -> Runtime {
    let mut runtime = Runtime::new(Limits::default()).unwrap();
    runtime.set_cache(Some(ComponentCache::open(cache).unwrap()));
    runtime
}

#[tokio::test]
async fn a_component_is_compiled_once_and_a_damaged_entry_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bytes = fs::read(component("testing/create_table")).unwrap();
    let seed = [0; 32];
    let first = runtime_with(&cache).prepare(&bytes, seed).await.unwrap();
    assert!(!first.was_cached(), "an empty cache holds nothing");
    let stored = entries(&cache);
    assert_eq!(stored.len(), 1, "{stored:?}");
    // Another process (a new runtime, so a new engine) finds it.
    let second = runtime_with(&cache).prepare(&bytes, seed).await.unwrap();
    assert!(second.was_cached());

    // A damaged entry (one bit of its native code) is never loaded: compiled and stored anew.
    let mut entry = fs::read(&stored[0]).unwrap();
    let last = entry.len() - 1;
    entry[last] ^= 1;
    fs::write(&stored[0], &entry).unwrap();
    let third = runtime_with(&cache).prepare(&bytes, seed).await.unwrap();
    assert!(!third.was_cached(), "a damaged entry was loaded");
    assert_ne!(
        fs::read(&stored[0]).unwrap(),
        entry,
        "the entry is rewritten"
    );
    assert!(
        runtime_with(&cache)
            .prepare(&bytes, seed)
            .await
            .unwrap()
            .was_cached()
    );

    // An entry renamed to stand for another component is refused for it.
    let other = fs::read(component("testing/fail")).unwrap();
    let other_entry = {
        runtime_with(&cache).prepare(&other, seed).await.unwrap();
        entries(&cache)
            .into_iter()
            .find(|p| *p != stored[0])
            .unwrap()
    };
    fs::copy(&stored[0], &other_entry).unwrap();
    let fourth = runtime_with(&cache).prepare(&other, seed).await.unwrap();
    assert!(
        !fourth.was_cached(),
        "an entry of another component was loaded"
    );
}

#[tokio::test]
async fn the_cli_compiles_into_its_cache_and_refuses_one_others_may_write() {
    let sandbox = Sandbox::new(Backend::Sqlite).await;
    blog_v1(&sandbox).write();
    let wasmig = env!("CARGO_BIN_EXE_wasmig-test-cli");
    let plan = sandbox.cli(wasmig, &["plan"]);
    assert!(plan.success(), "{plan:?}");
    // blog 1.0.0: an install component and two step components (the install covers them).
    let after_plan = entries(&sandbox.cache_dir());
    assert!(!after_plan.is_empty(), "plan compiled into the cache");
    let upgrade = sandbox.cli(wasmig, &["upgrade"]);
    assert!(upgrade.success(), "{upgrade:?}");
    assert!(entries(&sandbox.cache_dir()).len() >= after_plan.len());

    // --no-cache keeps nothing.
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = elsewhere.path().join("c");
    let cache_arg = cache.to_str().unwrap();
    let status = sandbox.cli(wasmig, &["--cache-dir", cache_arg, "--no-cache", "plan"]);
    assert!(status.success(), "{status:?}");
    assert!(!cache.exists(), "--no-cache created {}", cache.display());

    // A cache directory others may write to could hold planted native code.
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir(&cache).unwrap();
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
    let refused = sandbox.cli(wasmig, &["--cache-dir", cache_arg, "plan"]);
    assert!(!refused.success(), "{refused:?}");
    assert!(
        refused
            .stderr()
            .contains("its group or others may write to it (mode 777)"),
        "{refused:?}"
    );
}
