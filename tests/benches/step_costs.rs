//! What one migration step costs on the host: component size, Cranelift compile time, and a
//! run of the blog's install component on a fresh in-memory SQLite database.
//!
//! `cargo bench -p wasmig-tests --bench step_costs` (uses a release build of the host).

use std::time::{Duration, Instant};

use wasmig_db::Database;
use wasmig_engine::Limits;
use wasmig_runtime::{Hooks, Runtime, StepContext};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    const ROUNDS: usize = 15;
    let path = wasmig_tests::component("blog/install");
    let bytes = std::fs::read(&path).expect("the component");
    let runtime = Runtime::new(Limits::default()).expect("the runtime");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let prepare = || {
        tokio
            .block_on(runtime.prepare(&bytes, [0; 32]))
            .expect("a valid component")
    };

    let compile = median(
        (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                prepare();
                started.elapsed()
            })
            .collect(),
    );

    let step = prepare();
    let run = median(
        (0..ROUNDS)
            .map(|_| {
                tokio.block_on(async {
                    let db = Database::connect("sqlite::memory:").await.expect("sqlite");
                    let tx = db.begin().await.expect("a transaction");
                    let context = StepContext {
                        module: "blog".into(),
                        step: "install".into(),
                        from_version: None,
                        to_version: "1.2.0".into(),
                    };
                    let started = Instant::now();
                    let run = runtime.run(&step, tx, context, Hooks::default()).await;
                    let elapsed = started.elapsed();
                    run.result.expect("the install succeeds");
                    run.transaction.commit().await.expect("commit");
                    elapsed
                })
            })
            .collect(),
    );

    println!("component            blog/install.wasm");
    println!("size                 {} bytes", bytes.len());
    println!("compile (Cranelift)  {compile:?} median of {ROUNDS}");
    println!("instantiate + up()   {run:?} median of {ROUNDS} (3 statements)");
    println!(
        "compile / run        {:.1}x",
        compile.as_secs_f64() / run.as_secs_f64()
    );
}
