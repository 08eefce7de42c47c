//! Arrows point down: no module of `src/` imports from a layer above its own, in the order of
//! the README's table ("Layers, top to bottom"), and no files of one module import each other
//! in a circle. Reads the sources; builds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let layers = layers_from_readme();
    for (file, source) in sources() {
        if let Some((_, why)) = upward_imports(&layers, &file, &source).first() {
            panic!("{file} imports `{why}` from a layer above its own (README, \"Layers\")");
        }
    }
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let files: BTreeMap<String, String> = sources().into_iter().collect();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in &files {
        let imported = imported_paths(file, source)
            .into_iter()
            .filter_map(|path| file_of(&path, &files))
            .filter(|target| target != file && !is_parent_module(target, file));
        edges.entry(file).or_default().extend(imported);
    }
    if let Some(circle) = find_circle(&edges) {
        panic!(
            "these files import each other in a circle: {}",
            circle.join(" → ")
        );
    }
}

#[test]
fn the_check_sees_a_deliberate_bad_import() {
    let layers = layers_from_readme();
    let bad = "use crate::http::router;\nuse crate::{store::Store, oidc::jwt};\n";
    let found: Vec<String> = upward_imports(&layers, "src/domain/example.rs", bad)
        .into_iter()
        .map(|(target, _)| target)
        .collect();
    assert_eq!(found, ["http", "oidc", "store"]);
    let from_the_root = "use super::super::app::App;\n";
    assert_eq!(
        upward_imports(&layers, "src/store/sqlite/mod.rs", from_the_root).len(),
        1
    );
    let fine = "use crate::domain::User;\nuse super::Store; // crate::http::x in a comment\n";
    assert!(upward_imports(&layers, "src/store/example.rs", fine).is_empty());

    let files: BTreeMap<String, String> = [
        ("src/oidc/a.rs", "use super::b::f;"),
        ("src/oidc/b.rs", "use crate::oidc::a::g;"),
    ]
    .map(|(f, s)| (f.to_owned(), s.to_owned()))
    .into();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in &files {
        let imported = imported_paths(file, source)
            .into_iter()
            .filter_map(|path| file_of(&path, &files));
        edges.entry(file).or_default().extend(imported);
    }
    assert!(find_circle(&edges).is_some());
}

/// Each top-level module's row in the README's table (0 = top).
fn layers_from_readme() -> BTreeMap<String, usize> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = readme
        .split("Layers, top to bottom")
        .nth(1)
        .expect("README has the table \"Layers, top to bottom\"");
    let mut layers = BTreeMap::new();
    let rows = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2);
    for (row, line) in rows.enumerate() {
        let first_cell = line.split('|').nth(1).unwrap_or("");
        for name in first_cell.split('`').skip(1).step_by(2) {
            let module = name
                .strip_prefix("src/")
                .expect("the table names folders and files under src/")
                .trim_end_matches('/')
                .trim_end_matches(".rs");
            layers.insert(module.to_owned(), row);
        }
    }
    assert!(
        layers.len() > 5,
        "the layer table was not found in README.md"
    );
    layers
}

/// The top-level modules above `file`'s own that `source` imports, with the path that does.
fn upward_imports(
    layers: &BTreeMap<String, usize>,
    file: &str,
    source: &str,
) -> Vec<(String, String)> {
    let own = module_path(file)[0].clone();
    let own_layer = *layers
        .get(&own)
        .unwrap_or_else(|| panic!("{file}: module {own} has no row in README's layer table"));
    let mut upward: BTreeMap<String, String> = BTreeMap::new();
    for path in imported_paths(file, source) {
        let target = &path[0];
        if let Some(&layer) = layers.get(target) {
            if layer < own_layer {
                upward.entry(target.clone()).or_insert(path.join("::"));
            }
        }
    }
    upward.into_iter().collect()
}

/// Every module path `source` names through `crate::` or `super::`, from the crate root.
fn imported_paths(file: &str, source: &str) -> Vec<Vec<String>> {
    let code = without_comments_and_tests(source);
    let here = module_path(file);
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(['c', 's']) {
        let tail = &rest[at..];
        let before = code.len() - rest.len() + at;
        let starts_word = before == 0
            || !code[..before]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let (base, after) = if let Some(after) = tail.strip_prefix("crate::") {
            (Some(Vec::new()), after)
        } else if tail.starts_with("super::") {
            let mut after = tail;
            let mut base = here.clone();
            while let Some(next) = after.strip_prefix("super::") {
                base.pop();
                after = next;
            }
            (Some(base), after)
        } else {
            (None, tail)
        };
        match base {
            Some(base) if starts_word => {
                for tail_path in path_heads(after) {
                    let mut path = base.clone();
                    path.extend(tail_path);
                    if !path.is_empty() {
                        paths.push(path);
                    }
                }
                rest = after;
            }
            _ => rest = &tail[1..],
        }
    }
    paths
}

/// The paths at the start of `text` after `crate::`: `a::b` or a group `{a::b, c}`.
fn path_heads(text: &str) -> Vec<Vec<String>> {
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut end = group.len();
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let mut items = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        let inner = &group[..end];
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[start..]);
        return items
            .into_iter()
            .flat_map(|item| path_heads(item.trim()))
            .collect();
    }
    let mut path = Vec::new();
    let mut rest = text;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || name == "self" {
            break;
        }
        rest = &rest[name.len()..];
        path.push(name);
        match rest.strip_prefix("::") {
            Some(next) if next.starts_with('{') => {
                let mut heads = path_heads(next);
                if heads.is_empty() {
                    heads.push(Vec::new());
                }
                return heads
                    .into_iter()
                    .map(|h| path.iter().cloned().chain(h).collect())
                    .collect();
            }
            Some(next) => rest = next,
            None => break,
        }
    }
    vec![path]
}

/// `source` without comments and without its `#[cfg(test)]` module (tests may reach anywhere).
fn without_comments_and_tests(source: &str) -> String {
    let code = match source.find("#[cfg(test)]\nmod ") {
        Some(at) => &source[..at],
        None => source,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `src/oidc/authorize.rs` → [oidc, authorize]; `src/oidc/mod.rs` → [oidc].
fn module_path(file: &str) -> Vec<String> {
    let inner = file.strip_prefix("src/").unwrap().trim_end_matches(".rs");
    let mut path: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if path.len() > 1 && path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    path
}

/// The file that defines the module `path` names (the longest prefix that is a file).
fn file_of(path: &[String], files: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len()).rev().find_map(|n| {
        let stem = format!("src/{}", path[..n].join("/"));
        [format!("{stem}.rs"), format!("{stem}/mod.rs")]
            .into_iter()
            .find(|f| files.contains_key(f))
    })
}

/// A module's own `mod.rs` declares it; its children naming helpers of their parent is not
/// a circle.
fn is_parent_module(target: &str, file: &str) -> bool {
    target.ends_with("/mod.rs") && file.starts_with(target.trim_end_matches("mod.rs"))
}

fn find_circle(edges: &BTreeMap<&str, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        file: &str,
        edges: &BTreeMap<&str, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|f| f == file) {
            let mut circle = stack[at..].to_vec();
            circle.push(file.to_owned());
            return Some(circle);
        }
        if done.contains(file) {
            return None;
        }
        stack.push(file.to_owned());
        for next in edges.get(file).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(file.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|file| visit(file, edges, &mut Vec::new(), &mut done))
}

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = root();
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
