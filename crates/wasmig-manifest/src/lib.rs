//! Module packages as they lie on disk.
//!
//! ```text
//! <modules>/<name>/module.toml              the header: name, version, description, host-api,
//!                                           depends, grants
//! <modules>/<name>/install.wasm             optional: the latest schema in one step
//! <modules>/<name>/migrations/001_slug.wasm steps, numbered from 001 without gaps
//! <modules>/<name>/migrations/002_slug.sql  a step may be plain SQL instead of a component
//! <modules>/<name>/uninstall.wasm           optional: removes the module's objects
//! <modules>/<name>/checksums.sha256         optional: pins every step file's sha256
//! ```
//!
//! Everything is read through a [`cap_std::fs::Dir`] opened on the modules directory, so no
//! symlink or `..` leads outside it. Every component's bytes are read once, with their sha256,
//! so the bytes that are checked are the bytes that run.

mod error;
mod manifest;
mod order;
mod package;

pub use error::{Error, Result};
pub use manifest::{Grants, Manifest};
pub use package::{
    Artifact, CHECKSUMS_FILE, Kind, Modules, Package, Step, Unreadable, checksum_list, load_module,
    load_modules, parse_step_stem,
};
