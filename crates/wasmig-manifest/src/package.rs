use std::io;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use sha2::{Digest, Sha256};

use crate::{Error, Manifest, Result};

/// The bytes of one component file and their sha256, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The file's path, for messages.
    pub path: PathBuf,
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// The sha256 of `bytes`.
    pub digest: [u8; 32],
}

impl Artifact {
    fn new(path: PathBuf, bytes: Vec<u8>) -> Self {
        let digest = Sha256::digest(&bytes).into();
        Artifact {
            path,
            bytes,
            digest,
        }
    }

    /// The sha256 of the bytes, as lower-case hex.
    pub fn sha256(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One numbered migration step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step number, from 1.
    pub number: u32,
    /// The part of the file name after the number: `create_posts`.
    pub slug: String,
    /// The component.
    pub artifact: Artifact,
}

impl Step {
    /// The file stem, `001_create_posts`: how operators and guests name a step.
    pub fn name(&self) -> String {
        format!("{:03}_{}", self.number, self.slug)
    }
}

/// A module as installed: its header and its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The header.
    pub manifest: Manifest,
    /// `install.wasm`, when the module has a fresh-install path.
    pub install: Option<Artifact>,
    /// The steps, in order, numbered 1..=len.
    pub steps: Vec<Step>,
}

impl Package {
    /// The number of the last step, 0 when there is none.
    pub fn last_step(&self) -> u32 {
        self.steps.len() as u32
    }
}

/// Reads every module below `modules_dir` (each subdirectory holding a `module.toml`), sorted by
/// name. Fails on the first malformed module: a broken package never half-loads.
pub fn load_modules(modules_dir: &Path) -> Result<Vec<Package>> {
    let root = open_root(modules_dir)?;
    let io_error = |cause| Error::Io {
        path: modules_dir.to_owned(),
        cause,
    };
    let mut names = Vec::new();
    for entry in root.entries().map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().map_err(io_error)?;
        // Symlinked modules are followed (and refused if they lead outside the directory).
        if name.starts_with('.') || !(file_type.is_dir() || file_type.is_symlink()) {
            continue;
        }
        names.push(name);
    }
    names.sort();
    names
        .iter()
        .map(|name| read_module(&root, modules_dir, name))
        .collect()
}

/// Reads the one module `name` below `modules_dir`.
pub fn load_module(modules_dir: &Path, name: &str) -> Result<Package> {
    read_module(&open_root(modules_dir)?, modules_dir, name)
}

fn open_root(modules_dir: &Path) -> Result<Dir> {
    Dir::open_ambient_dir(modules_dir, ambient_authority()).map_err(|cause| Error::ModulesDir {
        path: modules_dir.to_owned(),
        cause,
    })
}

fn read_module(root: &Dir, modules_dir: &Path, name: &str) -> Result<Package> {
    let module_path = modules_dir.join(name);
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |cause| Error::Io { path, cause }
    };
    let dir = root.open_dir(name).map_err(io_error(&module_path))?;

    let manifest_path = module_path.join("module.toml");
    let text = dir
        .read_to_string("module.toml")
        .map_err(io_error(&manifest_path))?;
    let manifest = Manifest::parse(&text, &manifest_path)?;
    if manifest.name != name {
        return Err(Error::Manifest {
            path: manifest_path,
            message: format!(
                "field `name`: `{}` differs from the module's directory `{name}`",
                manifest.name
            ),
        });
    }

    let install_path = module_path.join("install.wasm");
    let install = match dir.read("install.wasm") {
        Ok(bytes) => Some(Artifact::new(install_path, bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error(&install_path)(e)),
    };

    let steps_path = module_path.join("migrations");
    let steps = match dir.open_dir("migrations") {
        Ok(steps_dir) => read_steps(&steps_dir, &steps_path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(&steps_path)(e)),
    };
    Ok(Package {
        manifest,
        install,
        steps,
    })
}

/// Reads `migrations/`: every visible entry must be a `NNN_slug.wasm` file, numbered 001..=N.
fn read_steps(dir: &Dir, path: &Path) -> Result<Vec<Step>> {
    let sequence_error = |message: String| Error::Sequence {
        path: path.to_owned(),
        message,
    };
    let io_error = |cause| Error::Io {
        path: path.to_owned(),
        cause,
    };
    let mut found: Vec<(u32, String, String)> = Vec::new();
    for entry in dir.entries().map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let (number, slug) = parse_step_file_name(&file_name).ok_or_else(|| {
            sequence_error(format!(
                "`{file_name}` is not a step: expected NNN_slug.wasm (three digits from 001, a slug of a-z, 0-9 and _)"
            ))
        })?;
        found.push((number, slug, file_name));
    }
    found.sort();

    for pair in found.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(sequence_error(format!(
                "`{}` and `{}` share step number {:03}",
                pair[0].2, pair[1].2, pair[0].0
            )));
        }
    }
    for (expected, (number, _, file_name)) in (1..).zip(&found) {
        if *number != expected {
            return Err(sequence_error(format!(
                "step {expected:03} is missing (the next step found is `{file_name}`); steps are numbered from 001 without gaps"
            )));
        }
    }

    found
        .into_iter()
        .map(|(number, slug, file_name)| {
            let bytes = dir.read(&file_name).map_err(|cause| Error::Io {
                path: path.join(&file_name),
                cause,
            })?;
            Ok(Step {
                number,
                slug,
                artifact: Artifact::new(path.join(&file_name), bytes),
            })
        })
        .collect()
}

/// `001_create_posts.wasm` → `(1, "create_posts")`.
fn parse_step_file_name(file_name: &str) -> Option<(u32, String)> {
    parse_step_stem(file_name.strip_suffix(".wasm")?)
}

/// `001_create_posts` → `(1, "create_posts")`: three digits from 001, `_`, a slug of a-z, 0-9, `_`.
pub fn parse_step_stem(stem: &str) -> Option<(u32, String)> {
    let (digits, slug) = stem.split_once('_')?;
    let valid_digits = digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit());
    let valid_slug = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
    let number: u32 = digits.parse().ok()?;
    (valid_digits && valid_slug && number >= 1).then(|| (number, slug.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const HEADER: &str = "name = \"blog\"\nversion = \"1.0.0\"\nhost-api = \"^0.1\"\n";

    fn module(steps: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("blog");
        fs::create_dir_all(dir.join("migrations")).unwrap();
        fs::write(dir.join("module.toml"), HEADER).unwrap();
        for step in steps {
            fs::write(dir.join("migrations").join(step), step.as_bytes()).unwrap();
        }
        root
    }

    #[test]
    fn steps_load_in_order_with_checksums() {
        let root = module(&["002_b.wasm", "001_a.wasm", ".gitkeep"]);
        let package = load_module(root.path(), "blog").unwrap();
        let names: Vec<_> = package.steps.iter().map(Step::name).collect();
        assert_eq!(names, ["001_a", "002_b"]);
        assert_eq!(package.last_step(), 2);
        assert_eq!(
            package.steps[0].artifact.sha256(),
            format!("{:x}", Sha256::digest(b"001_a.wasm"))
        );
        assert!(package.install.is_none());
    }

    #[test]
    fn gaps_duplicates_and_strays_are_refused() {
        let cases: [(&[&str], &str); 5] = [
            (&["001_a.wasm", "003_c.wasm"], "step 002 is missing"),
            (&["002_b.wasm"], "step 001 is missing"),
            (&["001_a.wasm", "001_b.wasm"], "share step number 001"),
            (&["001_a.wasm", "notes.txt"], "`notes.txt` is not a step"),
            (&["1_a.wasm"], "`1_a.wasm` is not a step"),
        ];
        for (steps, expected) in cases {
            let root = module(steps);
            let err = load_module(root.path(), "blog").unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{steps:?}: `{err}` lacks `{expected}`"
            );
            assert!(err.contains("blog/migrations"), "{err}");
        }
    }

    #[test]
    fn the_directory_must_match_the_name() {
        let root = module(&[]);
        fs::rename(root.path().join("blog"), root.path().join("news")).unwrap();
        let err = load_modules(root.path()).unwrap_err().to_string();
        assert!(
            err.contains("differs from the module's directory `news`"),
            "{err}"
        );
    }

    #[test]
    fn a_symlink_out_of_the_modules_directory_is_refused() {
        let outside = module(&["001_a.wasm"]);
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("blog"), root.path().join("blog")).unwrap();
        let err = load_modules(root.path()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn step_file_names() {
        assert_eq!(
            parse_step_file_name("010_x_y2.wasm"),
            Some((10, "x_y2".into()))
        );
        assert_eq!(parse_step_file_name("000_zero.wasm"), None);
        assert_eq!(parse_step_file_name("001_Upper.wasm"), None);
        assert_eq!(parse_step_file_name("001_.wasm"), None);
        assert_eq!(parse_step_file_name("001_a.sql"), None);
    }
}
