//! Killing the upgrader at random moments, and many upgraders at once: nothing is applied
//! twice, nothing is lost, and the result is the same as an uninterrupted run.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use wasmig_engine::Action;
use wasmig_store::Outcome;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    killing_the_upgrader_at_random_moments_loses_nothing,
    concurrent_upgraders_apply_each_step_once,
);

const WASMIG: &str = env!("CARGO_BIN_EXE_wasmig-test-cli");
const STEPS: u32 = 12;
const KILLS: usize = 20;

/// A module of `STEPS` identical crash-safe steps.
fn write_crashy(sandbox: &Sandbox) {
    let mut module = sandbox.module("crashy", "1.0.0");
    for n in 1..=STEPS {
        module = module.step(&format!("{n:03}_part"), "testing/crash_step");
    }
    module.write();
}

fn spawn(sandbox: &Sandbox, args: &[&str], stdout: Stdio) -> Child {
    Command::new(WASMIG)
        .current_dir(sandbox.path())
        .env("DATABASE_URL", sandbox.database_url())
        .env("WASMIG_MODULES", sandbox.modules_dir())
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts")
}

/// What a child printed so far, collected by a thread as it comes.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    seen
}

/// A small deterministic generator, seeded from the clock; the seed is printed so that a
/// failing run can be replayed.
struct XorShift(u64);

impl XorShift {
    fn from_clock() -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("kill schedule seed: {seed}");
        XorShift(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: Duration) -> Duration {
        bound.mul_f64((self.next() % 10_000) as f64 / 10_000.0)
    }

    /// A step number from `first` to `STEPS`.
    fn step_from(&mut self, first: u32) -> u32 {
        first + (self.next() % u64::from(STEPS + 1 - first)) as u32
    }
}

/// Runs `upgrade` or, when the module was left unfinished, `resume`, until it succeeds.
async fn finish(sandbox: &Sandbox) -> usize {
    let mut resumes = 0;
    for _ in 0..5 {
        let unfinished = matches!(
            sandbox.host().await.status().await.unwrap()[0].action,
            Action::Unfinished { .. }
        );
        let command = if unfinished { "resume" } else { "upgrade" };
        resumes += usize::from(unfinished);
        let out = sandbox.cli(WASMIG, &[command, "--wait", "30"]);
        if out.success() {
            return resumes;
        }
        eprintln!("{command} did not finish: {out:?}");
    }
    panic!("the module never finished");
}

/// Every step applied exactly once, in the ledger and in the data.
async fn assert_applied_once(sandbox: &Sandbox) {
    let host = sandbox.host().await;
    let status = host.status().await.unwrap();
    assert_eq!(status[0].action, Action::UpToDate, "{:?}", status[0]);
    let history = host.history(Some("crashy")).await.unwrap();
    for n in 1..=STEPS {
        let applied = history
            .iter()
            .filter(|e| e.step == n && e.outcome == Outcome::Applied)
            .count();
        assert_eq!(applied, 1, "step {n} applied {applied} times: {history:#?}");
    }
    let db = sandbox.database().await;
    let per_step = db
        .query(
            "SELECT step, COUNT(*), COUNT(DISTINCT n) FROM crashy_log GROUP BY step ORDER BY step",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(per_step.rows.len(), STEPS as usize);
    for row in &per_step.rows {
        assert_eq!(
            (row[1].as_integer(), row[2].as_integer()),
            (Some(50), Some(50)),
            "{row:?}"
        );
    }
}

async fn killing_the_upgrader_at_random_moments_loses_nothing(backend: Backend) {
    // An uninterrupted run: the reference result, and how long one step takes.
    let reference = Sandbox::new(backend).await;
    write_crashy(&reference);
    let out = reference.cli(WASMIG, &["upgrade"]);
    assert!(out.success(), "{out:?}");
    let expected = reference.dump_module_data().await;
    let history = reference.host().await.history(None).await.unwrap();
    let step_time = Duration::from_millis(
        history
            .iter()
            .map(|e| e.duration_ms)
            .max()
            .unwrap_or(1)
            .max(1),
    );

    let mut rng = XorShift::from_clock();
    let (mut kills, mut rounds, mut resumes) = (0, 0, 0);
    while kills < KILLS {
        rounds += 1;
        let sandbox = Sandbox::new(backend).await;
        write_crashy(&sandbox);
        // Kill runs of this database in the middle of a random step, a few times.
        for _ in 0..4 {
            let status = sandbox.host().await.status().await.unwrap().remove(0);
            if status.last_step >= STEPS {
                break;
            }
            let unfinished = matches!(status.action, Action::Unfinished { .. });
            let command = if unfinished { "resume" } else { "upgrade" };
            resumes += usize::from(unfinished);
            let mut child = spawn(&sandbox, &[command, "--wait", "30"], Stdio::piped());
            let printed = collect_stdout(&mut child);
            let marker = format!("  {:03}_part ... ", rng.step_from(status.last_step + 1));
            let deadline = Instant::now() + Duration::from_secs(30);
            while !printed.lock().unwrap().contains(&marker)
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            tokio::time::sleep(rng.below(step_time)).await;
            let killed = child.try_wait().unwrap().is_none();
            child.kill().ok();
            child.wait().unwrap();
            kills += usize::from(killed);
        }
        resumes += finish(&sandbox).await;
        assert_applied_once(&sandbox).await;
        assert_eq!(
            sandbox.dump_module_data().await,
            expected,
            "the same result as an uninterrupted run"
        );
    }
    eprintln!(
        "{backend:?}: {kills} kills over {rounds} databases of {STEPS} steps each \
         ({} steps checked), {resumes} resumes needed",
        rounds * STEPS as usize
    );
}

async fn concurrent_upgraders_apply_each_step_once(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    write_crashy(&sandbox);
    let children: Vec<Child> = (0..8)
        .map(|_| spawn(&sandbox, &["upgrade"], Stdio::null()))
        .collect();
    let mut won = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => won += 1,
            Some(1) => assert!(
                stderr.contains("another upgrade holds the lock"),
                "a loser reports the lock, nothing else: {stderr}"
            ),
            other => panic!("an upgrader crashed ({other:?}): {stderr}"),
        }
    }
    assert!(won >= 1, "someone took the lock");
    assert_applied_once(&sandbox).await;
}
