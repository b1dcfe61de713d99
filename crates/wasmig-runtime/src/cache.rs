//! Compiled components kept between runs, so that Cranelift runs once per component and
//! engine rather than once per run.
//!
//! An entry is the engine's serialized native code for one component, named by the
//! component's sha256 under a directory named by the engine's compatibility hash. Loading one
//! runs native code this process did not just compile, so the cache trusts nothing it did not
//! write itself: the directory must belong to this user and be writable by nobody else (it is
//! created `0700`), entries are written atomically (a temporary file renamed into place), and
//! each carries the sha256 of the component it was compiled from and of its own payload, both
//! checked before the engine sees it. Anything that fails a check is removed and compiled
//! afresh. The modules directory is never a cache: a package cannot ship native code.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of an entry (the format's version is part of it).
const MAGIC: &[u8; 8] = b"WASMIGC1";
/// Magic, the component's sha256, the payload's sha256.
const HEADER_LEN: usize = 8 + 32 + 32;

/// Why a cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The directory could not be created or read.
    #[error("component cache {}", .path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        cause: std::io::Error,
    },
    /// The directory belongs to another user or others may write to it: code loaded from it
    /// could have been planted.
    #[error(
        "component cache {}: {reason}; it holds native code this process would run, so it must \
         belong to this user and be writable by no one else",
        .path.display()
    )]
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A directory of compiled components (see the module's documentation).
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// The cache in `dir`, created (readable and writable by this user only) if missing.
    /// Refused when the directory belongs to another user or others may write to it.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CacheError> {
        let dir = dir.into();
        let io = |cause| CacheError::Io {
            path: dir.clone(),
            cause,
        };
        private_dir_builder().create(&dir).map_err(io)?;
        check_private(&dir)?;
        Ok(ComponentCache { dir })
    }

    /// The default directory: `$XDG_CACHE_HOME/wasmig`, else `$HOME/.cache/wasmig`; `None`
    /// when neither variable is set.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            })?;
        Some(base.join("wasmig"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component compiled from `bytes`: from the cache when it holds a sound entry, else
    /// compiled and stored. `true` with the component when it came from the cache.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, bool)> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let path = self.entry_path(engine, &digest);
        if let Some(component) = self.load(engine, &path, &digest) {
            return Ok((component, true));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.store(&path, &digest, &component) {
            tracing::warn!(path = %path.display(), %error, "could not cache a compiled component");
        }
        Ok((component, false))
    }

    /// Where the entry of the component `digest` lives for `engine`.
    fn entry_path(&self, engine: &Engine, digest: &[u8; 32]) -> PathBuf {
        let mut hasher = ShaHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let engine_key = hex(&hasher.0.finalize()[..8]);
        self.dir
            .join(engine_key)
            .join(format!("{}.cwasm", hex(digest)))
    }

    /// The entry at `path`, when it is sound; a corrupt or foreign one is removed.
    fn load(&self, engine: &Engine, path: &Path, digest: &[u8; 32]) -> Option<Component> {
        let bytes = read_private(path)?;
        let payload = match verified_payload(&bytes, digest) {
            Ok(payload) => payload,
            Err(problem) => {
                tracing::warn!(path = %path.display(), problem, "discarding a cache entry");
                let _ = fs::remove_file(path);
                return None;
            }
        };
        // SAFETY: the payload is what `Component::serialize` wrote into a directory that only
        // this user may write (checked when the cache was opened), under a digest of the
        // component it came from and of itself, both checked above; the engine checks its own
        // compatibility header before using it.
        match unsafe { Component::deserialize(engine, payload) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "discarding a cache entry");
                let _ = fs::remove_file(path);
                None
            }
        }
    }

    /// Writes the entry of `component` at `path`, atomically.
    fn store(&self, path: &Path, digest: &[u8; 32], component: &Component) -> io::Result<()> {
        let payload = component
            .serialize()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let parent = path.parent().unwrap_or(&self.dir);
        private_dir_builder().create(parent)?;
        let mut file = tempfile::NamedTempFile::new_in(parent)?;
        file.write_all(MAGIC)?;
        file.write_all(digest)?;
        file.write_all(&Sha256::digest(&payload))?;
        file.write_all(&payload)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The bytes of the entry at `path`, when it and its directory belong to this user and no one
/// else may write them (checked on the open file, so that it cannot be swapped in between).
fn read_private(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let parent = path.parent()?;
    let parent_meta = fs::symlink_metadata(parent).ok()?;
    let mut file = fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    for (what, meta) in [(parent, &parent_meta), (path, &meta)] {
        if let Err(reason) = private(meta) {
            tracing::warn!(path = %what.display(), reason, "not loading a cache entry");
            return None;
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// The payload of an entry, once its header names `digest` and the payload's own digest.
fn verified_payload<'b>(bytes: &'b [u8], digest: &[u8; 32]) -> Result<&'b [u8], &'static str> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not an entry of this version");
    }
    let (header, payload) = bytes.split_at(HEADER_LEN);
    if &header[8..40] != digest {
        return Err("compiled from another component");
    }
    if header[40..72] != Sha256::digest(payload)[..] {
        return Err("its contents do not match their digest");
    }
    Ok(payload)
}

/// Feeds what a `Hash` writes into a sha256, for a key that is the same in every process.
struct ShaHasher(Sha256);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn private_dir_builder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Refuses a directory that is a symbolic link, that another user owns or that others may
/// write to.
fn check_private(dir: &Path) -> Result<(), CacheError> {
    let meta = fs::symlink_metadata(dir).map_err(|cause| CacheError::Io {
        path: dir.to_owned(),
        cause,
    })?;
    private(&meta).map_err(|reason| CacheError::Untrusted {
        path: dir.to_owned(),
        reason,
    })
}

/// Why a file or directory with `meta` could hold what someone else put there, if it could.
#[cfg(unix)]
fn private(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link".into());
    }
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "it belongs to user {} (this process runs as {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "its group or others may write to it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_meta: &fs::Metadata) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_only_for_its_component_and_intact() {
        let payload = b"native code".to_vec();
        let digest = [7u8; 32];
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&digest);
        entry.extend_from_slice(&Sha256::digest(&payload));
        entry.extend_from_slice(&payload);
        assert_eq!(verified_payload(&entry, &digest), Ok(&payload[..]));
        assert_eq!(
            verified_payload(&entry, &[8u8; 32]),
            Err("compiled from another component")
        );
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            verified_payload(&flipped, &digest),
            Err("its contents do not match their digest")
        );
        assert_eq!(
            verified_payload(&entry[..HEADER_LEN - 1], &digest),
            Err("not an entry of this version")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let cache = ComponentCache::open(&dir).unwrap();
        let mode = fs::metadata(cache.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let refused = ComponentCache::open(&dir).unwrap_err();
        assert!(
            matches!(&refused, CacheError::Untrusted { reason, .. } if reason.contains("mode 777")),
            "{refused}"
        );
        // A link to a directory that would pass is refused too: its target can be swapped.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let refused = ComponentCache::open(&link).unwrap_err();
        assert!(
            matches!(&refused, CacheError::Untrusted { reason, .. } if reason.contains("symbolic link")),
            "{refused}"
        );
    }
}
