//! The simulation's seeds in `cargo test` (docu/simulation.md): a fixed budget of
//! seeds (`MARS_SIM_SEEDS`, default 0..1000; with the operator's repairs,
//! `MARS_SIM_INVALIDATE_SEEDS`, default 0..1000) on every core, and the seeds that found
//! bugs. A failure prints the seed and the command that replays it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Seeds that found bugs (docu/simulation.md, "Found"), before resizes were simulated:
/// run as they went then (`--no-resize`).
const FOUND: &[u64] = &[12, 77, 87, 156, 239, 420, 537, 692, 998, 1668, 2360, 7710, 11108];
/// ... and with the operator's `invalidate` (`--invalidate`).
const FOUND_INVALIDATE: &[u64] = &[13, 21, 64, 118, 121, 181, 184, 263, 518, 780, 860, 1104, 1168, 1305, 1467, 1796, 1817, 1918, 1934, 2363, 2423, 2454, 2856, 3051, 3221, 582, 5364, 5760, 5796, 15314, 25892, 29926];
/// Seeds that catch bugs found since, with resizes (`--invalidate`): each fails without
/// its fix in the model as it is now (docu/simulation.md, "Online resize").
const FOUND_INVALIDATE_RESIZE: &[u64] = &[609, 2689, 3799, 5193];

fn run(seed: u64, invalidate: bool) -> Result<mars_sim::Stats, String> {
    let mut w = mars_sim::World::new(seed);
    w.invalidate = invalidate;
    w.run().map_err(|f| f.to_string())
}

fn run_found(seeds: &[u64], invalidate: bool, resize: bool) {
    for &seed in seeds {
        let mut w = if resize { mars_sim::World::new(seed) } else { mars_sim::World::without_resizes(seed) };
        w.invalidate = invalidate;
        if let Err(f) = w.run() {
            panic!("{f}");
        }
    }
}

#[test]
fn found_seeds() {
    run_found(FOUND, false, false);
}

#[test]
fn found_seeds_with_invalidate() {
    run_found(FOUND_INVALIDATE, true, false);
    run_found(FOUND_INVALIDATE_RESIZE, true, true);
}

#[test]
fn seed_budget() {
    budget("MARS_SIM_SEEDS", false);
}

#[test]
fn seed_budget_with_invalidate() {
    budget("MARS_SIM_INVALIDATE_SEEDS", true);
}

/// Runs the range in `var` (default 0..1000) on every core.
fn budget(var: &str, invalidate: bool) {
    let range = std::env::var(var).unwrap_or_else(|_| "0..1000".into());
    let (a, b) = range.split_once("..").and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))).unwrap_or_else(|| panic!("{var} is A..B"));
    let next = AtomicU64::new(a);
    let failures = Mutex::new(Vec::new());
    let total = Mutex::new(mars_sim::Stats::default());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= b || !failures.lock().unwrap().is_empty() {
                    return;
                }
                match run(seed, invalidate) {
                    Ok(st) => total.lock().unwrap().add(&st),
                    Err(f) => failures.lock().unwrap().push(f),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("seeds {range}{}: {}", if invalidate { " with invalidate" } else { "" }, total.into_inner().unwrap());
}
