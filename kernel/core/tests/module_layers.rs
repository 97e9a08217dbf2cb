//! The kernel module's files read top-down (docu/architecture.md, "Layers"): every
//! file of `kernel/` belongs to one layer, refers to no file of a higher layer, and no
//! files refer to each other in a circle. Refers means names `crate::<module>`, the way
//! the module's files use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first, by the first part of a module's path (a file directly in
/// `kernel/`, or a directory of them). `kapi` (the only place with `unsafe`) and
/// `mars_core` (this crate) lie below all of them.
const LAYERS: &[(&str, &[&str])] = &[
    ("kapi", &["kapi", "mars_core"]),
    ("base", &["clock", "context", "digest", "tunables"]),
    ("tree", &["tree"]),
    ("primary", &["primary"]),
    ("net", &["net"]),
    ("secondary", &["secondary"]),
    ("control", &["control", "mars_main"]),
];

/// Directories of `kernel/` whose files are modules `<dir>::<file>` (`kapi` counts as
/// one module).
const ROOMS: &[&str] = &["tree", "primary", "net", "secondary", "control"];

fn layer_of(module: &str) -> Option<usize> {
    let first = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|(_, modules)| modules.contains(&first))
}

/// The modules `source` names as `crate::<name>`, `crate::<room>::<file>` (also in
/// `crate::{a, b::c}` and `crate::<room>::{a, b}`), where `files` are the modules of the
/// rooms; an item of a room's own `mod.rs` counts as the room. Line comments are not read.
fn references(source: &str, files: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = source.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    // The items of a group `{a, b::c}` (only the first name of each: nested groups would
    // need a parser, and the module has none), or the one name of a path.
    let items = |rest: &str| -> Vec<(String, String)> {
        match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .map(|item| (ident(item.trim()), item.trim()[ident(item.trim()).len()..].to_owned()))
                .filter(|(n, _)| !n.is_empty())
                .collect(),
            None => vec![(ident(rest), rest[ident(rest).len()..].to_owned())],
        }
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        for (name, after) in items(&code[i + "crate::".len()..]) {
            if name.is_empty() {
                continue;
            }
            match after.strip_prefix("::") {
                Some(more) if ROOMS.contains(&name.as_str()) => {
                    for (file, _) in items(more) {
                        let full = format!("{name}::{file}");
                        out.insert(if files.contains(&full) { full } else { name.clone() });
                    }
                }
                _ => {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Every file of `kernel/` (not `core/`) with the modules it refers to: `kapi/*` counts
/// as module `kapi`, `<room>/mod.rs` as `<room>`, `<room>/<file>.rs` as `<room>::<file>`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let kernel = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = Vec::new();
    let mut dirs = vec![(kernel.clone(), String::new()), (kernel.join("kapi"), "kapi".to_owned())];
    dirs.extend(ROOMS.iter().map(|r| (kernel.join(r), format!("{r}::"))));
    for (dir, prefix) in dirs {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().map_or(true, |e| e != "rs") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let module = match prefix.as_str() {
                "" => stem,
                "kapi" => prefix.clone(),
                room if stem == "mod" => room.trim_end_matches("::").to_owned(),
                room => format!("{room}{stem}"),
            };
            sources.push((module, fs::read_to_string(&path).unwrap()));
        }
    }
    let files: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, source) in sources {
        let refs = references(&source, &files);
        graph.entry(module.clone()).or_default().extend(refs.into_iter().filter(|r| *r != module));
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
            wrong.push(format!("{module} has no layer: add it to LAYERS"));
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
    let src = "use crate::{clock, digest::x};\nuse crate::tree::{path, ROOT};\nuse crate::tree::keys::Keys;\n\
               use crate::net::{conn::Conn, meta};\nlet t = crate::tunables::X; // crate::control::strategy\n\
               let p = crate::primary::log::Log::new();";
    let files = ["net::conn", "net::meta", "primary::log", "tree::keys"].map(String::from).into();
    let got: Vec<_> = references(src, &files).into_iter().collect();
    assert_eq!(got, ["clock", "digest", "net::conn", "net::meta", "primary::log", "tree", "tree::keys", "tunables"]);
}
