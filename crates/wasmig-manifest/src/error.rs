use std::path::PathBuf;

/// Why a module package could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The modules directory itself cannot be opened.
    #[error("cannot open the modules directory {}", .path.display())]
    ModulesDir {
        /// The directory, as the operator named it.
        path: PathBuf,
        /// The underlying error.
        #[source]
        cause: std::io::Error,
    },
    /// A file or directory could not be read (or lies outside the modules directory).
    #[error("cannot read {}", .path.display())]
    Io {
        /// The path, as the operator named it.
        path: PathBuf,
        /// The underlying error.
        #[source]
        cause: std::io::Error,
    },
    /// `module.toml` is malformed or a field holds a bad value.
    #[error("{}: {message}", .path.display())]
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The migrations do not form a sequence 001, 002, … without gaps or duplicates.
    #[error("{}: {message}", .path.display())]
    Sequence {
        /// The migrations directory.
        path: PathBuf,
        /// What is wrong, naming the steps.
        message: String,
    },
    /// The package's `checksums.sha256` does not match its files.
    #[error("{}: {message}", .path.display())]
    Checksum {
        /// The checksum list.
        path: PathBuf,
        /// Which file differs, and how.
        message: String,
    },
    /// Modules depend on each other in a cycle.
    #[error("{}: modules depend on each other in a cycle: {cycle}", .dir.display())]
    DependencyCycle {
        /// The modules directory.
        dir: PathBuf,
        /// The cycle, e.g. `a -> b -> a`.
        cycle: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
