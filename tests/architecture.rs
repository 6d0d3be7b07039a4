//! The shape of `src/`, checked from its `use` lines and paths (no build tool needed; run it alone
//! with `cargo test --test architecture`):
//!
//! - **No import circles.** At every level of the module tree, the sibling modules form a
//!   graph without cycles: an edge `a -> b` means a file under `a` names something under `b`
//!   (through `crate::`, `super::`, a child module's name, in a `use` line or inline). A parent
//!   and its own children may name each other (a `mod.rs` re-exporting, a child implementing its
//!   parent's type); siblings may not go round in a circle. At the top level this is the data
//!   path: `cluster -> project -> plan -> nautobot -> controller -> cli`, each stage using only
//!   the ones before it.
//! - **Pure core, thin I/O.** Only `nautobot/`, `controller/` and `runtime/` use reqwest, tokio,
//!   axum, hyper or a kube client (`kube::Client`, `kube::Api`, `kube::runtime`, discovery).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path and its text without comments.
struct Source {
    path: String,
    module: Vec<String>,
    lines: Vec<String>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).expect("under src").to_path_buf();
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&f).expect("readable");
            Source {
                path: format!("src/{}", rel.display()),
                module,
                lines: text.lines().map(strip_comment).collect(),
            }
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src is readable") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The line without `//` comments (doc comments name paths in prose; string literals holding
/// ` //` are rare enough not to matter here).
fn strip_comment(line: &str) -> String {
    let t = line.trim_start();
    if t.starts_with("//") {
        return String::new();
    }
    match line.find(" //") {
        Some(i) if !line[..i].contains('"') => line[..i].to_string(),
        _ => line.to_string(),
    }
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into flat paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.replace(" as ", "@").split_whitespace().collect();
    let mut out = Vec::new();
    expand_into("", &tree, &mut out);
    out
}

fn expand_into(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let join = |p: &str, s: &str| {
        if p.is_empty() {
            s.to_string()
        } else {
            format!("{p}::{s}")
        }
    };
    match tree.find('{') {
        None => {
            let path = tree.split('@').next().unwrap_or(tree);
            out.push(join(prefix, path.trim_end_matches("::")));
        }
        Some(open) => {
            let head = tree[..open].trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let prefix = if head.is_empty() {
                prefix.to_string()
            } else {
                join(prefix, head)
            };
            // split the inner list at top-level commas
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !inner[start..i].is_empty() {
                            expand_into(&prefix, &inner[start..i], out);
                        }
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].is_empty() {
                expand_into(&prefix, &inner[start..], out);
            }
        }
    }
}

/// Every path a file names, with the line it is on and how many inline `mod x {` blocks it is
/// inside (`super` there starts from the file's own module).
fn named_paths(src: &Source) -> Vec<(usize, usize, String)> {
    let inline = regex::Regex::new(r"^(\s*)(pub(\([a-z]+\))? )?mod [a-z_0-9]+ \{").unwrap();
    let path =
        regex::Regex::new(r"\b(crate|super|self|[a-z_][a-z0-9_]*)(::[A-Za-z_][A-Za-z0-9_]*)+")
            .unwrap();
    let mut out = Vec::new();
    let mut open: Vec<String> = Vec::new(); // indents of the inline modules we are in
    let mut in_use: Option<(usize, String)> = None;
    for (n, line) in src.lines.iter().enumerate() {
        if let Some(ind) = open.last()
            && line.starts_with(&format!("{ind}}}"))
            && line.trim() == "}"
        {
            open.pop();
            continue;
        }
        if let Some(c) = inline.captures(line) {
            open.push(c[1].to_string());
            continue;
        }
        let depth = open.len();
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if in_use.is_none() && t.starts_with("use ") {
            in_use = Some((n, String::new()));
        }
        if let Some((start, acc)) = in_use.as_mut() {
            acc.push_str(line);
            if line.contains(';') {
                let stmt = acc.trim().trim_end_matches(';').to_string();
                let stmt = stmt.split_once("use ").map_or("", |(_, r)| r).to_string();
                for p in expand(&stmt) {
                    out.push((*start + 1, depth, p));
                }
                in_use = None;
            }
            continue;
        }
        for m in path.find_iter(line) {
            out.push((n + 1, depth, m.as_str().to_string()));
        }
    }
    out
}

/// Resolves a named path to the module it lands in, if it is one of ours.
fn resolve(
    modules: &BTreeSet<Vec<String>>,
    from: &[String],
    inline_depth: usize,
    path: &str,
) -> Option<Vec<String>> {
    let segs: Vec<&str> = path.split("::").collect();
    let mut base: Vec<String> = from.to_vec();
    let mut rest = &segs[..];
    match segs.first().copied()? {
        "crate" => {
            base.clear();
            rest = &segs[1..];
        }
        "self" => rest = &segs[1..],
        "super" => {
            let mut ups: usize = 0;
            while rest.first() == Some(&"super") {
                ups += 1;
                rest = &rest[1..];
            }
            let ups = ups.saturating_sub(inline_depth);
            for _ in 0..ups {
                base.pop()?;
            }
        }
        first => {
            // a child module of this one, named without `self::`
            let mut child = from.to_vec();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
        }
    }
    let mut target = base;
    for s in rest {
        let mut next = target.clone();
        next.push(s.to_string());
        if modules.contains(&next) {
            target = next;
        } else {
            break;
        }
    }
    Some(target)
}

#[derive(Default)]
struct Graph {
    /// parent module -> (child -> children it depends on, with one piece of evidence each)
    levels: BTreeMap<Vec<String>, BTreeMap<String, BTreeMap<String, String>>>,
}

fn graph() -> Graph {
    let srcs = sources();
    let modules: BTreeSet<Vec<String>> = srcs.iter().map(|s| s.module.clone()).collect();
    let mut g = Graph::default();
    for src in srcs.iter().filter(|s| s.path != "src/main.rs") {
        for (line, depth, p) in named_paths(src) {
            let Some(target) = resolve(&modules, &src.module, depth, &p) else {
                continue;
            };
            let common = src
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // ancestors and descendants may name each other
            if common == src.module.len() || common == target.len() {
                continue;
            }
            let parent = src.module[..common].to_vec();
            g.levels
                .entry(parent)
                .or_default()
                .entry(src.module[common].clone())
                .or_default()
                .entry(target[common].clone())
                .or_insert_with(|| format!("{}:{line} names {p}", src.path));
        }
    }
    g
}

/// A cycle among one level's siblings, as the evidence of each edge.
fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        n: &'a str,
        edges: &'a BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        for (m, _) in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|x| *x == m).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[at..].to_vec();
                    cycle.push(m);
                    return Some(
                        cycle
                            .windows(2)
                            .map(|w| format!("{} -> {}: {}", w[0], w[1], edges[w[0]][w[1]]))
                            .collect(),
                    );
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n.as_str())
            && let Some(c) = visit(n, edges, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn src_has_no_import_circles() {
    let g = graph();
    let mut found = Vec::new();
    for (parent, edges) in &g.levels {
        if let Some(c) = find_cycle(edges) {
            let at = if parent.is_empty() {
                "crate".to_string()
            } else {
                format!("crate::{}", parent.join("::"))
            };
            found.push(format!(
                "a circle among the modules of {at}:\n  {}",
                c.join("\n  ")
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_top_level_follows_the_data_path() {
    // each stage may use only stages before it (and the shared leaves: api, config, model, runtime)
    let g = graph();
    let top = g.levels.get(&Vec::new()).cloned().unwrap_or_default();
    let order = [
        "api",
        "config",
        "model",
        "runtime",
        "cluster",
        "project",
        "plan",
        "nautobot",
        "controller",
        "cli",
    ];
    let rank = |m: &str| order.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    for (from, tos) in &top {
        for (to, evidence) in tos {
            match (rank(from), rank(to)) {
                (Some(a), Some(b)) if a > b => {}
                (Some(_), Some(_)) => wrong.push(format!("{from} -> {to}: {evidence}")),
                _ => wrong.push(format!(
                    "{from} -> {to} (a top-level module outside the data path): {evidence}"
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "against the data path:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn only_the_io_layers_use_io_crates() {
    let io = regex::Regex::new(
        r"\b(reqwest|tokio|axum|hyper)::|kube::(Client|Api|runtime|discovery|client)\b|kube::\{[^}]*\b(Client|Api)\b",
    )
    .unwrap();
    let allowed = ["nautobot", "controller", "runtime"];
    let mut wrong = Vec::new();
    for src in sources() {
        let layer = src.module.first().map(String::as_str).unwrap_or("");
        if allowed.contains(&layer) {
            continue;
        }
        // #[cfg(test)] modules may use a runtime to drive what they test
        let mut in_tests = false;
        for (n, line) in src.lines.iter().enumerate() {
            if line.trim() == "#[cfg(test)]" {
                in_tests = true;
            }
            if !in_tests && let Some(m) = io.find(line) {
                wrong.push(format!("{}:{}: {}", src.path, n + 1, m.as_str()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "I/O outside nautobot/, controller/ and runtime/:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_checker_sees_circles_and_use_trees() {
    assert_eq!(
        expand("crate::{a::B, c::{d, e::F as G}}"),
        ["crate::a::B", "crate::c::d", "crate::c::e::F"]
    );
    let edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::from([
        ("a".into(), BTreeMap::from([("b".into(), "x".into())])),
        ("b".into(), BTreeMap::from([("a".into(), "y".into())])),
    ]);
    assert!(find_cycle(&edges).is_some());
}
