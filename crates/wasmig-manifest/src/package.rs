use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, FileType};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Manifest, Result};

/// What a step file holds, told by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `.wasm`: a WebAssembly component of the `wasmig:migration` world.
    Component,
    /// `.sql`: plain SQL statements separated by `;`, run through the same policy.
    Sql,
}

impl Kind {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Component => "wasm",
            Kind::Sql => "sql",
        }
    }

    fn of(file_name: &str) -> Option<(Kind, &str)> {
        [Kind::Component, Kind::Sql].into_iter().find_map(|kind| {
            let stem = file_name
                .strip_suffix(kind.extension())?
                .strip_suffix('.')?;
            Some((kind, stem))
        })
    }
}

/// The bytes of one step file and their sha256, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The file's path, for messages.
    pub path: PathBuf,
    /// Component or SQL.
    pub kind: Kind,
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// The sha256 of `bytes`.
    pub digest: [u8; 32],
}

impl Artifact {
    /// Wraps the bytes read from `path`, computing their sha256.
    pub fn new(path: PathBuf, kind: Kind, bytes: Vec<u8>) -> Self {
        let digest = Sha256::digest(&bytes).into();
        Artifact {
            path,
            kind,
            bytes,
            digest,
        }
    }

    /// The file name, e.g. `002_add_status.sql`.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
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

/// A module as installed: its header and its step files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The header.
    pub manifest: Manifest,
    /// `install.wasm` (or `install.sql`), when the module has a fresh-install path.
    pub install: Option<Artifact>,
    /// The steps, in order, numbered 1..=len.
    pub steps: Vec<Step>,
    /// `uninstall.wasm` (or `.sql`): what removes the module's objects, when it ships one.
    pub uninstall: Option<Artifact>,
    /// True when the package carries a `checksums.sha256` list (which every file matched).
    pub checksummed: bool,
}

impl Package {
    /// The number of the last step, 0 when there is none.
    pub fn last_step(&self) -> u32 {
        self.steps.len() as u32
    }

    /// Every step file of the package: install, the numbered steps, uninstall.
    pub fn artifacts(&self) -> impl Iterator<Item = &Artifact> {
        self.install
            .iter()
            .chain(self.steps.iter().map(|s| &s.artifact))
            .chain(&self.uninstall)
    }
}

/// The file a package may carry to pin its step files: `sha256sum` output, one
/// `<hex>  <path>` line per file, paths relative to the module's directory.
pub const CHECKSUMS_FILE: &str = "checksums.sha256";

/// The modules of a modules directory.
#[derive(Debug, Default)]
pub struct Modules {
    /// The modules that could be read, in dependency order.
    pub packages: Vec<Package>,
    /// The modules that could not, by directory name, each with why: each fails on its own,
    /// the others go on.
    pub unreadable: Vec<Unreadable>,
}

/// A module whose package could not be read.
#[derive(Debug)]
pub struct Unreadable {
    /// Its directory's name (the module's name, when its header is right).
    pub name: String,
    /// Why it could not be read.
    pub error: Error,
}

impl Modules {
    /// Takes out the error of `name` when its package could not be read.
    pub fn take_unreadable(&mut self, name: &str) -> Option<Error> {
        let at = self.unreadable.iter().position(|u| u.name == name)?;
        Some(self.unreadable.remove(at).error)
    }
}

/// Reads every module below `modules_dir` (each subdirectory holding a `module.toml`): the
/// readable ones in dependency order (a module after those it depends on; otherwise by name),
/// and apart, the malformed ones with their error (a broken package never half-loads, and
/// fails only itself). Fails when the directory cannot be read and on a dependency cycle.
pub fn load_modules(modules_dir: &Path) -> Result<Modules> {
    let root = open_root(modules_dir)?;
    let io_error = |cause| Error::Io {
        path: modules_dir.to_owned(),
        cause,
    };
    let mut names = Vec::new();
    for entry in root.entries().map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry_type(&root, &entry).map_err(io_error)?;
        // Symlinked modules are followed (and refused if they lead outside the directory).
        if name.starts_with('.') || !(file_type.is_dir() || file_type.is_symlink()) {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let mut packages = Vec::new();
    let mut unreadable = Vec::new();
    for (name, read) in read_modules(&root, modules_dir, names) {
        match read {
            Ok(package) => packages.push(package),
            Err(error) => unreadable.push(Unreadable { name, error }),
        }
    }
    Ok(Modules {
        packages: crate::order::dependency_order(packages, modules_dir)?,
        unreadable,
    })
}

/// Reads the modules `names`, in that order, on as many threads as there are cores: reading
/// a package is mostly waiting for the file system (several files per module).
fn read_modules(
    root: &Dir,
    modules_dir: &Path,
    names: Vec<String>,
) -> Vec<(String, Result<Package>)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = names.len().div_ceil(threads).max(16);
    std::thread::scope(|scope| {
        let readers: Vec<_> = names
            .chunks(chunk)
            .map(|names| {
                scope.spawn(move || {
                    names
                        .iter()
                        .map(|name| (name.clone(), read_module(root, modules_dir, name)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        readers
            .into_iter()
            .flat_map(|reader| {
                reader
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
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
    let listing = Listing::read(&dir).map_err(io_error(&module_path))?;

    let manifest_path = module_path.join("module.toml");
    let text = listing
        .read_file(&dir, "module.toml")
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        })
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

    let install = read_role(&dir, &listing, &module_path, "install")?;
    let uninstall = read_role(&dir, &listing, &module_path, "uninstall")?;

    let steps_path = module_path.join("migrations");
    let steps = match listing.open_dir(&dir, "migrations") {
        Ok(steps_dir) => read_steps(&steps_dir, &steps_path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(&steps_path)(e)),
    };
    let mut package = Package {
        manifest,
        install,
        steps,
        uninstall,
        checksummed: false,
    };
    if let Some(listed) = package.manifest.no_transaction.iter().find(|listed| {
        let component = |artifact: &Artifact| artifact.kind == Kind::Component;
        let is_step = package
            .steps
            .iter()
            .any(|s| &s.name() == *listed && component(&s.artifact));
        let is_role = (listed.as_str() == "install"
            && package.install.as_ref().is_some_and(component))
            || (listed.as_str() == "uninstall"
                && package.uninstall.as_ref().is_some_and(component));
        !(is_step || is_role)
    }) {
        return Err(Error::Manifest {
            path: manifest_path,
            message: format!(
                "field `no-transaction`: `{listed}` is not a component step of this package \
                 (list components as `NNN_slug`; a SQL step says it with the first line \
                 `-- wasmig:no-transaction`)"
            ),
        });
    }
    if package.manifest.host_api.is_none()
        && let Some(component) = package.artifacts().find(|a| a.kind == Kind::Component)
    {
        return Err(Error::Manifest {
            path: manifest_path,
            message: format!(
                "field `host-api` is missing, and `{}` is a component: say which versions of \
                 the host API the components need, e.g. `host-api = \"^0.1\"`",
                component.file_name()
            ),
        });
    }
    package.checksummed = check_sums(&dir, &listing, &module_path, &package)?;
    Ok(package)
}

/// The most a package file may hold: more is refused before it is read into memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The entries of one directory of a package and their types, read once: a file that is
/// not listed is not looked for (a package's optional files cost no failed lookup each).
struct Listing(BTreeMap<String, FileType>);

impl Listing {
    /// Lists `dir`.
    fn read(dir: &Dir) -> io::Result<Listing> {
        let mut entries = BTreeMap::new();
        for entry in dir.entries()? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let file_type = entry_type(dir, &entry)?;
            entries.insert(name, file_type);
        }
        Ok(Listing(entries))
    }

    /// Reads the listed file `name` (see [`read_file`]); `NotFound` when it is not listed.
    fn read_file(&self, dir: &Dir, name: &str) -> io::Result<Vec<u8>> {
        match self.0.get(name) {
            Some(file_type) => read_file(dir, name, *file_type),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    /// Opens the listed directory `name`; `NotFound` when it is not listed.
    fn open_dir(&self, dir: &Dir, name: &str) -> io::Result<Dir> {
        if self.0.contains_key(name) {
            dir.open_dir(name)
        } else {
            Err(io::ErrorKind::NotFound.into())
        }
    }
}

/// The type of `entry` of `dir`, as its directory says, or, on a file system whose
/// directories do not say (ext2 without `filetype`, XFS with `ftype=0`, some network file
/// systems), as the entry itself says (a link is not followed).
fn entry_type(dir: &Dir, entry: &cap_std::fs::DirEntry) -> io::Result<FileType> {
    let listed = entry.file_type()?;
    if listed != FileType::unknown() {
        return Ok(listed);
    }
    Ok(dir.symlink_metadata(entry.file_name())?.file_type())
}

/// Reads one file of a package, `listed` as its directory's entry says: a regular file (a
/// FIFO, a device or a directory is refused without being opened, so that reading never
/// blocks; a symbolic link is followed and its target checked first) of at most
/// [`MAX_FILE_BYTES`].
fn read_file(dir: &Dir, name: &str, listed: FileType) -> io::Result<Vec<u8>> {
    let not_regular = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a directory is never read)",
        )
    };
    let regular = listed.is_file() || (listed.is_symlink() && dir.metadata(name)?.is_file());
    if !regular {
        return Err(not_regular());
    }
    let file = open_regular(dir, name)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        // Replaced between the listing and the opening.
        return Err(not_regular());
    }
    let too_large = |size: u64| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{size} bytes: a package file may hold at most {} MiB",
                MAX_FILE_BYTES >> 20
            ),
        )
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(metadata.len()));
    }
    use std::io::Read;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Opens `name` for reading without waiting: should it have become a FIFO since it was
/// listed, the open returns at once (and the caller refuses it).
fn open_regular(dir: &Dir, name: &str) -> io::Result<cap_std::fs::File> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use cap_std::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    dir.open_with(name, &options)
}

/// Reads `<role>.wasm` or `<role>.sql` (not both) from the module's directory, if present.
fn read_role(
    dir: &Dir,
    listing: &Listing,
    module_path: &Path,
    role: &str,
) -> Result<Option<Artifact>> {
    let mut found = None;
    for kind in [Kind::Component, Kind::Sql] {
        let file_name = format!("{role}.{}", kind.extension());
        let path = module_path.join(&file_name);
        match listing.read_file(dir, &file_name) {
            Ok(bytes) => {
                if let Some(other) = found.replace(Artifact::new(path.clone(), kind, bytes)) {
                    return Err(Error::Sequence {
                        path: module_path.to_owned(),
                        message: format!(
                            "both `{}` and `{file_name}` exist; keep one",
                            other.file_name()
                        ),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io { path, cause: e }),
        }
    }
    Ok(found)
}

/// Checks the package's files against its `checksums.sha256`, when it has one: every step
/// file must be listed with its sha256, and every listed file must exist. Returns whether the
/// package has the list.
fn check_sums(dir: &Dir, listing: &Listing, module_path: &Path, package: &Package) -> Result<bool> {
    let path = module_path.join(CHECKSUMS_FILE);
    let text = match listing.read_file(dir, CHECKSUMS_FILE) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(cause) => return Err(Error::Io { path, cause }),
    };
    let tampered = |message: String| Error::Checksum {
        path: path.clone(),
        message,
    };
    let mut listed = BTreeMap::new();
    for (number, line) in (1..).zip(text.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = line
            .split_once(char::is_whitespace)
            .map(|(hex, file)| (hex, file.trim_start().trim_start_matches('*')))
            .filter(|(hex, file)| {
                hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !file.is_empty()
            });
        let Some((hex, file)) = parsed else {
            return Err(tampered(format!("line {number} is not `<sha256>  <file>`")));
        };
        listed.insert(file.to_owned(), hex.to_ascii_lowercase());
    }
    for artifact in package.artifacts() {
        let relative = relative_name(module_path, artifact);
        match listed.remove(&relative) {
            None => {
                return Err(tampered(format!(
                    "`{relative}` is not listed; every step file must be"
                )));
            }
            Some(expected) if expected != artifact.sha256() => {
                return Err(tampered(format!(
                    "`{relative}` does not match its checksum (listed {}, file has {}): \
                     the file was changed after the package was made",
                    &expected[..12],
                    &artifact.sha256()[..12]
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(missing) = listed.keys().next() {
        return Err(tampered(format!(
            "`{missing}` is listed but the package has no such step file"
        )));
    }
    Ok(true)
}

/// An artifact's path relative to its module's directory, `/`-separated.
fn relative_name(module_path: &Path, artifact: &Artifact) -> String {
    let relative = artifact
        .path
        .strip_prefix(module_path)
        .unwrap_or(&artifact.path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `checksums.sha256` text for a package's step files.
pub fn checksum_list(module_path: &Path, package: &Package) -> String {
    package
        .artifacts()
        .map(|a| format!("{}  {}\n", a.sha256(), relative_name(module_path, a)))
        .collect()
}

/// Reads `migrations/`: every visible entry must be a `NNN_slug.wasm` or `NNN_slug.sql` file,
/// numbered 001..=N.
fn read_steps(dir: &Dir, path: &Path) -> Result<Vec<Step>> {
    let sequence_error = |message: String| Error::Sequence {
        path: path.to_owned(),
        message,
    };
    let io_error = |cause| Error::Io {
        path: path.to_owned(),
        cause,
    };
    let mut found: Vec<(u32, String, String, Kind)> = Vec::new();
    let listing = Listing::read(dir).map_err(io_error)?;
    for file_name in listing.0.keys() {
        if file_name.starts_with('.') {
            continue;
        }
        let (number, slug, kind) = parse_step_file_name(file_name).ok_or_else(|| {
            sequence_error(format!(
                "`{file_name}` is not a step: expected NNN_slug.wasm or NNN_slug.sql (three digits from 001, a slug of a-z, 0-9 and _)"
            ))
        })?;
        found.push((number, slug, file_name.clone(), kind));
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
    for (expected, (number, _, file_name, _)) in (1..).zip(&found) {
        if *number != expected {
            return Err(sequence_error(format!(
                "step {expected:03} is missing (the next step found is `{file_name}`); steps are numbered from 001 without gaps"
            )));
        }
    }

    found
        .into_iter()
        .map(|(number, slug, file_name, kind)| {
            let bytes = listing
                .read_file(dir, &file_name)
                .map_err(|cause| Error::Io {
                    path: path.join(&file_name),
                    cause,
                })?;
            Ok(Step {
                number,
                slug,
                artifact: Artifact::new(path.join(&file_name), kind, bytes),
            })
        })
        .collect()
}

/// `001_create_posts.wasm` → `(1, "create_posts", Component)`.
fn parse_step_file_name(file_name: &str) -> Option<(u32, String, Kind)> {
    let (kind, stem) = Kind::of(file_name)?;
    let (number, slug) = parse_step_stem(stem)?;
    Some((number, slug, kind))
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
    fn no_transaction_lists_component_steps_only_and_host_api_only_serves_components() {
        let root = module(&["001_a.wasm", "002_b.sql"]);
        let dir = root.path().join("blog");
        let header = |extra: &str| fs::write(dir.join("module.toml"), format!("{HEADER}{extra}"));
        header("no-transaction = [\"001_a\"]\n").unwrap();
        let package = load_module(root.path(), "blog").unwrap();
        assert_eq!(package.manifest.no_transaction, ["001_a"]);
        for listed in ["002_b", "003_c", "001"] {
            header(&format!("no-transaction = [\"{listed}\"]\n")).unwrap();
            let err = load_module(root.path(), "blog").unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{listed}` is not a component step")),
                "{listed}: {err}"
            );
        }
        // Without host-api: fine for SQL steps alone, said plainly for components.
        fs::write(
            dir.join("module.toml"),
            "name = \"blog\"\nversion = \"1.0.0\"\n",
        )
        .unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(
            err.contains("`host-api` is missing, and `001_a.wasm` is a component"),
            "{err}"
        );
        fs::remove_file(dir.join("migrations/001_a.wasm")).unwrap();
        fs::rename(
            dir.join("migrations/002_b.sql"),
            dir.join("migrations/001_b.sql"),
        )
        .unwrap();
        assert!(
            load_module(root.path(), "blog")
                .unwrap()
                .manifest
                .host_api
                .is_none()
        );
    }

    #[test]
    fn a_fifo_or_an_oversized_file_is_refused_without_blocking() {
        let root = module(&["001_a.sql"]);
        let step = root.path().join("blog/migrations/002_b.sql");
        let made = std::process::Command::new("mkfifo")
            .arg(&step)
            .status()
            .unwrap();
        assert!(made.success());
        // The path in the message, the reason as its source.
        let with_cause = |err: Error| {
            let cause = std::error::Error::source(&err).map(ToString::to_string);
            format!("{err}: {}", cause.unwrap_or_default())
        };
        let err = with_cause(load_module(root.path(), "blog").unwrap_err());
        assert!(err.contains("002_b.sql: not a regular file"), "{err}");
        std::fs::remove_file(&step).unwrap();
        let big = std::fs::File::create(&step).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = with_cause(load_module(root.path(), "blog").unwrap_err());
        assert!(
            err.contains("a package file may hold at most 64 MiB"),
            "{err}"
        );
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
    fn sql_steps_and_install_and_uninstall_roles_load() {
        let root = module(&["001_a.wasm", "002_b.sql"]);
        let dir = root.path().join("blog");
        fs::write(dir.join("install.sql"), "CREATE TABLE blog_x (id INT);").unwrap();
        fs::write(dir.join("uninstall.wasm"), "u").unwrap();
        let package = load_module(root.path(), "blog").unwrap();
        assert_eq!(package.steps[0].artifact.kind, Kind::Component);
        assert_eq!(package.steps[1].artifact.kind, Kind::Sql);
        assert_eq!(package.install.as_ref().unwrap().kind, Kind::Sql);
        assert_eq!(
            package.uninstall.as_ref().unwrap().file_name(),
            "uninstall.wasm"
        );
        assert_eq!(package.artifacts().count(), 4);

        fs::write(dir.join("install.wasm"), "i").unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(
            err.contains("both `install.wasm` and `install.sql` exist"),
            "{err}"
        );
        let root = module(&["001_a.wasm", "001_a.sql"]);
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(err.contains("share step number 001"), "{err}");
    }

    #[test]
    fn a_checksum_list_pins_every_step_file() {
        let root = module(&["001_a.wasm", "002_b.sql"]);
        let dir = root.path().join("blog");
        let package = load_module(root.path(), "blog").unwrap();
        assert!(!package.checksummed);
        let list = checksum_list(&dir, &package);
        assert!(list.contains("  migrations/002_b.sql\n"), "{list}");
        fs::write(dir.join(CHECKSUMS_FILE), &list).unwrap();
        assert!(load_module(root.path(), "blog").unwrap().checksummed);

        fs::write(dir.join("migrations/002_b.sql"), "DROP TABLE users;").unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(
            err.contains("`migrations/002_b.sql` does not match its checksum"),
            "{err}"
        );
        fs::write(dir.join("migrations/002_b.sql"), "002_b.sql").unwrap();
        fs::write(dir.join("migrations/003_c.sql"), "003_c.sql").unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(
            err.contains("`migrations/003_c.sql` is not listed"),
            "{err}"
        );
        fs::remove_file(dir.join("migrations/003_c.sql")).unwrap();
        fs::remove_file(dir.join("migrations/002_b.sql")).unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(
            err.contains("`migrations/002_b.sql` is listed but"),
            "{err}"
        );
        fs::write(dir.join(CHECKSUMS_FILE), "nonsense\n").unwrap();
        let err = load_module(root.path(), "blog").unwrap_err().to_string();
        assert!(err.contains("line 1 is not `<sha256>  <file>`"), "{err}");
    }

    #[test]
    fn the_directory_must_match_the_name() {
        let root = module(&[]);
        fs::rename(root.path().join("blog"), root.path().join("news")).unwrap();
        let mut modules = load_modules(root.path()).unwrap();
        let err = modules.take_unreadable("news").unwrap().to_string();
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
        let mut modules = load_modules(root.path()).unwrap();
        let err = modules.take_unreadable("blog").unwrap();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(modules.packages.is_empty());
    }

    #[test]
    fn step_file_names() {
        assert_eq!(
            parse_step_file_name("010_x_y2.wasm"),
            Some((10, "x_y2".into(), Kind::Component))
        );
        assert_eq!(
            parse_step_file_name("002_a.sql"),
            Some((2, "a".into(), Kind::Sql))
        );
        assert_eq!(parse_step_file_name("000_zero.wasm"), None);
        assert_eq!(parse_step_file_name("001_Upper.wasm"), None);
        assert_eq!(parse_step_file_name("001_.wasm"), None);
        assert_eq!(parse_step_file_name("001_a.txt"), None);
        assert_eq!(parse_step_file_name("001_a.sqlx"), None);
    }
}
