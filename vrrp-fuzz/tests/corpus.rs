//! The fuzz targets as plain tests: every committed corpus entry (fuzz/corpus/TARGET/, kept
//! minimised by `cargo xtask fuzz`, and every crash found, once fixed) and the built-in
//! seeds, then a bounded number of fresh random mutations of them, through the same harness
//! functions cargo-fuzz runs. A regression fails `cargo xtask test` without cargo-fuzz.
use std::path::{Path, PathBuf};

use vrrp_fuzz::{config, election, wire, xdp, Rng};

/// Random mutations per target and run (each test also replays its whole corpus).
const FRESH: usize = 3000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The committed corpus of `target`, sorted by name.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Runs `f` on every corpus entry and seed, then on `fresh` mutations of them; names the
/// input that failed.
fn replay(target: &str, seeds: Vec<Vec<u8>>, fresh: usize, mut f: impl FnMut(&[u8])) {
    // `VRRP_FUZZ_WRITE_SEEDS=1`: (re)write the built-in seeds into the corpus first, as
    // `cargo xtask fuzz` does before a run.
    if std::env::var_os("VRRP_FUZZ_WRITE_SEEDS").is_some() {
        let dir = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), s).expect("writing a seed");
        }
    }
    let mut inputs = corpus(target);
    assert!(!inputs.is_empty(), "the {target} corpus is empty");
    inputs.extend(seeds);
    for (i, input) in inputs.iter().enumerate() {
        eprintln!("{target}: corpus entry {i} ({} bytes)", input.len());
        f(input);
    }
    let mut rng = Rng::new(0x5eed ^ target.len() as u64);
    for i in 0..fresh {
        let base = &inputs[rng.below(inputs.len())];
        let input = rng.mutate(base);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&input)));
        if let Err(e) = run {
            panic!("{target}: fresh case {i} failed on {input:02x?}: {e:?}");
        }
    }
    eprintln!(
        "{target}: {} corpus entries and seeds, {fresh} fresh cases",
        inputs.len()
    );
}

#[test]
fn config_corpus() {
    replay("config", config::seeds(&root()), FRESH / 3, config::run);
}

#[test]
fn wire_corpus() {
    replay("wire", wire::seeds(), FRESH * 3, wire::run);
}

#[test]
fn election_corpus() {
    let mut contested = 0;
    replay("election", election::seeds(), FRESH / 3, |d| {
        if election::run(d) >= 2 {
            contested += 1;
        }
    });
    // Many scenarios ended with two or three routers up, one of them Master.
    assert!(
        contested > 100,
        "only {contested} scenarios with an election"
    );
}

#[test]
fn xdp_vs_agent_corpus() {
    let mut h = xdp::Harness::new().unwrap_or_else(|e| panic!("loading the XDP program: {e}"));
    replay("xdp_vs_agent", xdp::seeds(), FRESH, |f| h.run(f));
    // Both sides agreed on a valid advert and on every discard reason (owner conflicts
    // included), not only on frames that are not VRRP at all.
    let seen = h.seen();
    let missing: Vec<_> = std::iter::once(None)
        .chain(vrrp_common::Discard::ALL.map(Some))
        .filter(|o| !seen.contains(o))
        .collect();
    assert!(missing.is_empty(), "outcomes never exercised: {missing:?}");
}
