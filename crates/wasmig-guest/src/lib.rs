//! The SDK for writing wasmig migrations in Rust.
//!
//! A migration is a `cdylib` crate built for `wasm32-wasip2`. It exports one function with
//! [`migration!`] and talks to the database only through the [`Db`] it is given: the host has
//! already opened the step's transaction and decides what the step may touch.
//!
//! ```no_run
//! use wasmig_guest::{Db, Result, params};
//!
//! fn up(db: &Db) -> Result<()> {
//!     db.execute("ALTER TABLE blog_posts ADD COLUMN status TEXT", params![])?;
//!     for row in db.query("SELECT id, published FROM blog_posts", params![])?.iter() {
//!         let id: i64 = row.get("id")?;
//!         let status = if row.get::<bool>("published")? { "live" } else { "draft" };
//!         db.execute("UPDATE blog_posts SET status = ? WHERE id = ?", params![status, id])?;
//!     }
//!     wasmig_guest::info!("backfilled {} in {}", "status", db.context().module);
//!     Ok(())
//! }
//!
//! wasmig_guest::migration!(up);
//! ```

// The generated bindings name this crate by its external path, also from inside it.
extern crate self as wasmig_guest;

mod cursor;
mod db;
mod error;
mod value;

pub use cursor::{Cursor, OwnedRow};
pub use db::{ColumnIndex, Context, Db, Dialect, Row, Rows};
pub use error::{Error, Result};
pub use value::{FromValue, Value};

/// Raw bindings generated from the wasmig WIT package; most authors never need them (their
/// documentation is the WIT file's).
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "migration",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_migration",
        default_bindings_module: "wasmig_guest::bindings",
        runtime_path: "wasmig_guest::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

/// Re-exports the macros rely on; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    use crate::bindings::exports::wasmig::migration::step;
    use crate::bindings::wasmig::migration::database::Connection;

    /// Adapts an author's `fn(&Db) -> Result<()>` to the exported WIT function.
    pub fn run_up(
        up: fn(&crate::Db) -> crate::Result<()>,
        conn: &Connection,
        ctx: step::Context,
    ) -> Result<(), String> {
        up(&crate::Db::new(conn, ctx.into())).map_err(|error| error.to_string())
    }
}

/// Exports `fn up(db: &Db) -> Result<()>` as this component's migration step (or install step).
#[macro_export]
macro_rules! migration {
    ($up:path) => {
        #[doc(hidden)]
        pub struct __WasmigStep;

        impl $crate::bindings::exports::wasmig::migration::step::Guest for __WasmigStep {
            fn up(
                db: &$crate::bindings::wasmig::migration::database::Connection,
                ctx: $crate::bindings::exports::wasmig::migration::step::Context,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::run_up($up, db, ctx)
            }
        }

        $crate::bindings::__export_migration!(__WasmigStep with_types_in $crate::bindings);
    };
}

/// Builds the parameter list of a statement: `params![name, 42, None::<i64>]`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[$crate::Value]
    };
    ($($value:expr),+ $(,)?) => {
        &[$($crate::Value::from($value)),+] as &[$crate::Value]
    };
}

#[doc(hidden)]
pub fn __log(level: bindings::wasmig::migration::log::Level, message: &str) {
    bindings::wasmig::migration::log::log(level, message);
}

/// Logs through the host at a given level: `log!(Info, "copied {} rows", n)`.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        $crate::__log($crate::bindings::wasmig::migration::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// Logs an informational line through the host's log.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!(Info, $($arg)+) };
}

/// Logs a warning through the host's log.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!(Warn, $($arg)+) };
}

/// Logs a debug line through the host's log.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!(Debug, $($arg)+) };
}
