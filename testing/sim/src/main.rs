//! `mars-sim`: runs seeds of the simulation (docu/simulation.md).
//!
//! `mars-sim --seed S [--verbose]` replays one seed (with `--verbose`, every event);
//! `mars-sim --seeds A..B` runs a range and prints the first failing seed; with
//! `--count`, runs them all, prints each failure and counts them (to measure the checker).
//! `--invalidate`: the operator also repairs split brains with `invalidate`, and the
//! run must end converged (open findings, docu/simulation.md). `--no-resize`: the run
//! as it went before resizes were simulated (the seeds found before then).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--verbose");
    let count = args.iter().any(|a| a == "--count");
    let invalidate = args.iter().any(|a| a == "--invalidate");
    let no_resize = args.iter().any(|a| a == "--no-resize");
    let mut failing: Vec<u64> = Vec::new();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let seeds: Vec<u64> = if let Some(s) = value("--seed") {
        match s.parse() {
            Ok(s) => vec![s],
            Err(_) => return usage(),
        }
    } else if let Some(r) = value("--seeds") {
        let Some((a, b)) = r.split_once("..").and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))) else {
            return usage();
        };
        (a..b).collect()
    } else {
        return usage();
    };
    let mut total = mars_sim::Stats::default();
    for &seed in &seeds {
        let mut w = if no_resize { mars_sim::World::without_resizes(seed) } else { mars_sim::World::new(seed) };
        w.verbose = verbose;
        w.invalidate = invalidate;
        match w.run() {
            Ok(s) => total.add(&s),
            Err(f) if count => {
                println!("FAIL {f}");
                failing.push(seed);
            }
            Err(f) => {
                println!("FAIL {f}");
                return ExitCode::FAILURE;
            }
        }
    }
    if count {
        println!("{} of {} seeds failed", failing.len(), seeds.len());
        return if failing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    println!("{} seeds passed: {total}", seeds.len());
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: mars-sim --seed S [--verbose] [--invalidate] [--no-resize] | --seeds A..B [--count] [--invalidate] [--no-resize]");
    ExitCode::from(2)
}
