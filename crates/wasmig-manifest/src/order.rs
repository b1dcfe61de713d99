//! The order modules install and upgrade in: a module after the modules it depends on.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Error, Package, Result};

/// Sorts `packages` (given by name) so that every module comes after the modules it depends on
/// that are present; among modules free to go, by name. A dependency that is not present is
/// left for the engine to report (it blocks only its dependents). A cycle is an error.
pub(crate) fn dependency_order(packages: Vec<Package>, modules_dir: &Path) -> Result<Vec<Package>> {
    let mut waiting: BTreeMap<String, Package> = packages
        .into_iter()
        .map(|p| (p.manifest.name.clone(), p))
        .collect();
    let mut ordered = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let ready = waiting
            .iter()
            .find(|(_, p)| {
                p.manifest
                    .depends
                    .keys()
                    .all(|dependency| !waiting.contains_key(dependency))
            })
            .map(|(name, _)| name.clone());
        match ready {
            Some(name) => ordered.extend(waiting.remove(&name)),
            None => {
                return Err(Error::DependencyCycle {
                    dir: modules_dir.to_owned(),
                    cycle: find_cycle(&waiting),
                });
            }
        }
    }
    Ok(ordered)
}

/// A cycle among `waiting`, every one of which depends on another one of them: `a -> b -> a`.
fn find_cycle(waiting: &BTreeMap<String, Package>) -> String {
    let next = |name: &str| -> String {
        waiting[name]
            .manifest
            .depends
            .keys()
            .find(|d| waiting.contains_key(*d))
            .cloned()
            .expect("a module left waiting depends on another waiting module")
    };
    let mut path: Vec<String> = vec![waiting.keys().next().cloned().unwrap_or_default()];
    loop {
        let following = next(path.last().expect("the path is never empty"));
        if let Some(start) = path.iter().position(|n| *n == following) {
            let mut cycle = path.split_off(start);
            cycle.push(following);
            return cycle.join(" -> ");
        }
        path.push(following);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manifest;

    fn package(name: &str, depends: &[&str]) -> Package {
        let text = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\nhost-api = \"^0.1\"\ndepends = {{ {} }}\n",
            depends
                .iter()
                .map(|d| format!("{d} = \"1\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Package {
            manifest: Manifest::parse(&text, Path::new("module.toml")).unwrap(),
            install: None,
            steps: Vec::new(),
            uninstall: None,
            checksummed: false,
        }
    }

    fn names(packages: &[Package]) -> Vec<&str> {
        packages.iter().map(|p| p.manifest.name.as_str()).collect()
    }

    #[test]
    fn dependencies_come_first_then_names() {
        let ordered = dependency_order(
            vec![
                package("addons", &["blog", "core"]),
                package("blog", &["core"]),
                package("core", &[]),
                package("zeta", &[]),
                package("alpha", &["missing"]),
            ],
            Path::new("m"),
        )
        .unwrap();
        assert_eq!(names(&ordered), ["alpha", "core", "blog", "addons", "zeta"]);
    }

    #[test]
    fn cycles_are_named() {
        let err = dependency_order(
            vec![
                package("a", &["b"]),
                package("b", &["c"]),
                package("c", &["b"]),
                package("d", &[]),
            ],
            Path::new("m"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cycle: b -> c -> b"), "{err}");
    }
}
