//! The schema reader the tests compare databases with (see `wasmig-schema`).

pub use wasmig_schema::Schema;
