//! Every integration test of wasmig in one binary, so that wasmtime and sqlx are linked once.
//! Run one part with a filter: `cargo test -p wasmig-tests --test all -- hostile::`.

mod browser;
mod cache;
mod cli;
mod corpus;
mod crash;
mod defense;
mod hostile;
mod safety;
mod serve;
mod upgrade;
mod values;
