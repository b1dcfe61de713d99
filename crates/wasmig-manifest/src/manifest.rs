use std::collections::BTreeMap;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::{Error, Result};

/// A module's header, `module.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The module's name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// The module's version; the database is brought to it.
    pub version: Version,
    /// What the module does, for humans.
    pub description: Option<String>,
    /// The versions of the wasmig host API (the WIT package) the module's components need;
    /// `None` for a module of plain SQL steps, which needs none.
    pub host_api: Option<VersionReq>,
    /// Objects the module may use beyond those it creates.
    pub grants: Grants,
    /// Modules that must be installed first, with the versions this one needs
    /// (`depends = { core = ">=1.2" }`).
    pub depends: BTreeMap<String, VersionReq>,
    /// Component steps that run outside a transaction, each statement committing by itself
    /// (`no-transaction = ["012_index_concurrently"]`); a SQL step says so in its first line.
    pub no_transaction: Vec<String>,
}

/// `[grants]`: objects (of the application or of other modules) a module may read, or read
/// and write rows of. It never alters or drops them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Objects it may read.
    #[serde(default)]
    pub read: Vec<String>,
    /// Objects it may read and write rows of.
    #[serde(default)]
    pub write: Vec<String>,
}

/// The file exactly as written, before the values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    name: String,
    version: String,
    description: Option<String>,
    host_api: Option<String>,
    #[serde(default)]
    grants: Grants,
    #[serde(default)]
    depends: BTreeMap<String, String>,
    #[serde(default)]
    no_transaction: Vec<String>,
}

impl Manifest {
    /// Parses `module.toml` text; `path` is used in error messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let invalid = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| invalid(one_line(&e, text)))?;
        if !is_valid_name(&raw.name) {
            return Err(invalid(format!(
                "field `name`: `{}` is not a module name (use a-z, 0-9 and _, starting with a letter, at most 63 characters)",
                raw.name
            )));
        }
        let version = Version::parse(&raw.version).map_err(|e| {
            invalid(format!(
                "field `version`: `{}` is not a semver version: {e}",
                raw.version
            ))
        })?;
        let host_api = raw
            .host_api
            .as_deref()
            .map(|written| {
                VersionReq::parse(written).map_err(|e| {
                    invalid(format!(
                        "field `host-api`: `{written}` is not a semver requirement: {e}"
                    ))
                })
            })
            .transpose()?;
        for (list, names) in [("read", &raw.grants.read), ("write", &raw.grants.write)] {
            for name in names {
                if !is_valid_name(&name.to_lowercase()) {
                    return Err(invalid(format!(
                        "field `grants.{list}`: `{name}` is not a table or view name"
                    )));
                }
                if name.to_lowercase().starts_with("wasmig_") {
                    return Err(invalid(format!(
                        "field `grants.{list}`: `{name}` is one of the host's own tables, which no module may be granted"
                    )));
                }
            }
        }
        let mut depends = BTreeMap::new();
        for (module, requirement) in &raw.depends {
            if !is_valid_name(module) {
                return Err(invalid(format!(
                    "field `depends`: `{module}` is not a module name"
                )));
            }
            if *module == raw.name {
                return Err(invalid(format!(
                    "field `depends`: `{module}` is this module itself"
                )));
            }
            let requirement = VersionReq::parse(requirement).map_err(|e| {
                invalid(format!(
                    "field `depends.{module}`: `{requirement}` is not a semver requirement: {e}"
                ))
            })?;
            depends.insert(module.clone(), requirement);
        }
        Ok(Manifest {
            name: raw.name,
            version,
            description: raw.description,
            host_api,
            grants: raw.grants,
            depends,
            no_transaction: raw.no_transaction,
        })
    }
}

/// A module name is also a prefix of its tables, so it stays a plain SQL identifier.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// toml's message on one line, with the line and column it points at.
fn one_line(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, Path::new("m/module.toml"))
    }

    #[test]
    fn a_full_header_parses() {
        let m = parse(
            "name = \"blog\"\nversion = \"1.2.0\"\ndescription = \"d\"\nhost-api = \"^0.1\"\n",
        )
        .unwrap();
        assert_eq!(m.name, "blog");
        assert_eq!(m.version, Version::new(1, 2, 0));
        assert!(m.host_api.unwrap().matches(&Version::new(0, 1, 3)));
        assert!(m.depends.is_empty());
        let m = parse(
            "name = \"blog\"\nversion = \"1.2.0\"\nhost-api = \"^0.1\"\ndepends = { core = \">=1.2\" }\n",
        )
        .unwrap();
        assert!(m.depends["core"].matches(&Version::new(1, 3, 0)));
        assert!(!m.depends["core"].matches(&Version::new(1, 1, 0)));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                "name = \"Blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"",
                "field `name`",
            ),
            (
                "name = \"blog\"\nversion = \"1.0\"\nhost-api = \"0.1\"",
                "field `version`",
            ),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"~~\"",
                "field `host-api`",
            ),
            (
                "name = \"blog\"\nhost-api = \"0.1\"",
                "missing field `version`",
            ),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\nvesion = 1",
                "unknown field `vesion`",
            ),
            ("name = \"blog\"\nversion = 1\nhost-api = \"0.1\"", "line 2"),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\n[grants]\nread = [\"wasmig_modules\"]",
                "field `grants.read`: `wasmig_modules` is one of the host's own tables",
            ),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\n[grants]\nwrite = [\"a;b\"]",
                "field `grants.write`: `a;b` is not a table or view name",
            ),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\n[grants]\ndelete = []",
                "unknown field `delete`",
            ),
            ("name = \"blog", "line 1"),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\ndepends = { core = \"one\" }",
                "field `depends.core`: `one` is not a semver requirement",
            ),
            (
                "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"0.1\"\ndepends = { blog = \"1\" }",
                "field `depends`: `blog` is this module itself",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with("m/module.toml: "), "{err}");
            assert!(err.contains(expected), "`{err}` should mention {expected}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
