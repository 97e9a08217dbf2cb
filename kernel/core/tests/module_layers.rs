//! The kernel module's files read top-down (docu/architecture.md, "Layers"): every
//! file of `kernel/` belongs to one layer, refers to no file of a higher layer, and no
//! files refer to each other in a circle. Refers means names `crate::<module>`, the way
//! the module's files use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first. `kapi` (the only place with `unsafe`) and `mars_core`
/// (this crate) lie below all of them.
const LAYERS: &[(&str, &[&str])] = &[
    ("kapi", &["kapi", "mars_core"]),
    ("base", &["clock", "context", "digest", "keys", "ring", "tree", "tunables"]),
    (
        "services",
        &["buffer", "conn", "device", "fetch", "log", "logger", "meta", "progress", "reader", "replay", "served", "sync", "writeback"],
    ),
    ("control", &["mars_main", "proc_sys", "resource", "strategy"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// The modules `source` names as `crate::<name>` (also in `crate::{a, b::c}`).
fn references(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            // Only the top-level names of the group (`b` of `b::c`); nested groups
            // would need a parser, and the module has none.
            out.extend(group.split(',').map(|item| ident(item.trim())).filter(|n| !n.is_empty()));
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every file of `kernel/` (not `core/`) with the modules it refers to; `kapi/*` counts
/// as module `kapi`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let kernel = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (dir, fixed) in [(kernel.clone(), None), (kernel.join("kapi"), Some("kapi"))] {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().map_or(true, |e| e != "rs") {
                continue;
            }
            let module = fixed.map_or_else(|| path.file_stem().unwrap().to_string_lossy().into_owned(), str::to_owned);
            let refs = references(&fs::read_to_string(&path).unwrap());
            graph.entry(module.clone()).or_default().extend(refs.into_iter().filter(|r| *r != module));
        }
    }
    graph
}

/// A circle through `graph`, if there is one (depth-first search).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut c = path[at..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_file_has_a_layer_and_refers_only_down() {
    let graph = graph();
    assert!(graph.len() > 20, "found only {:?} in kernel/", graph.keys());
    let mut wrong = Vec::new();
    for (module, refs) in &graph {
        let Some(mine) = layer_of(module) else {
            wrong.push(format!("kernel/{module}.rs has no layer: add it to LAYERS"));
            continue;
        };
        for r in refs {
            match layer_of(r) {
                Some(theirs) if theirs > mine => {
                    wrong.push(format!("{module} ({}) refers up to {r} ({})", LAYERS[mine].0, LAYERS[theirs].0))
                }
                Some(_) => {}
                None => wrong.push(format!("{module} refers to {r}, which has no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_circle_of_references() {
    if let Some(c) = circle(&graph()) {
        panic!("the module's files refer to each other in a circle: {}", c.join(" -> "));
    }
}

#[test]
fn references_are_found_in_groups_and_paths() {
    let src = "use crate::{fetch, meta::x, sync};\nuse crate::tree::{path, ROOT};\nlet t = crate::tunables::X;";
    let got: Vec<_> = references(src).into_iter().collect();
    assert_eq!(got, ["fetch", "meta", "sync", "tree", "tunables"]);
}
