//! Killing the upgrader at random moments, and many upgraders at once: nothing is applied
//! twice, nothing is lost, and the result is the same as an uninterrupted run.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use wasmig_engine::Action;
use wasmig_store::Outcome;
use wasmig_tests::corpus::Corpus;
use wasmig_tests::schema::Schema;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    killing_the_upgrader_at_random_moments_loses_nothing,
    concurrent_upgraders_apply_each_step_once,
);

/// How many times the real histories' upgraders are killed.
const CORPUS_KILLS: usize = 100;

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
    let mut command = Command::new(WASMIG);
    if sandbox.policy_only() {
        command.env("WASMIG_POLICY_ONLY", "1");
    }
    command
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

/// What an upgrade leaves that must not depend on how often it was interrupted: every
/// object of the schema, and how many rows each table holds (a step applied twice, or not at
/// all, changes them; timestamps would differ between any two runs).
async fn outcome(sandbox: &Sandbox) -> (Schema, Vec<(String, i64)>) {
    let db = sandbox.database().await;
    let schema = Schema::read(&db).await.unwrap();
    let mut counts = Vec::new();
    for table in sandbox.tables().await {
        if table.starts_with("wasmig_") || table.starts_with("sqlite_") {
            continue;
        }
        let quoted = match sandbox.backend() {
            Backend::MySql => format!("`{table}`"),
            _ => format!("\"{table}\""),
        };
        counts.push((
            table,
            sandbox
                .integer(&format!("SELECT COUNT(*) FROM {quoted}"))
                .await,
        ));
    }
    (schema, counts)
}

/// Runs the CLI on `sandbox` and kills it with SIGKILL after a random moment below
/// `horizon`; true when it was still running (a real kill).
async fn kill_at_random(sandbox: &Sandbox, rng: &mut XorShift, horizon: Duration) -> bool {
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    let command = match status.action {
        Action::Unfinished { .. } => "resume",
        _ => "upgrade",
    };
    let mut child = spawn(sandbox, &[command, "--wait", "60"], Stdio::null());
    tokio::time::sleep(rng.below(horizon)).await;
    let killed = child.try_wait().unwrap().is_none();
    child.kill().ok();
    child.wait().unwrap();
    killed
}

/// Finishes the module with one `resume` (when it was left unfinished) or `upgrade`: no
/// second try and no repair.
async fn finish_once(sandbox: &Sandbox) -> bool {
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    let unfinished = matches!(status.action, Action::Unfinished { .. });
    let command = if unfinished { "resume" } else { "upgrade" };
    let out = sandbox.cli(WASMIG, &[command, "--wait", "60"]);
    assert!(
        out.success(),
        "{command} alone finishes the module: {out:?}"
    );
    let status = sandbox.host().await.status().await.unwrap().remove(0);
    assert_eq!(status.action, Action::UpToDate, "{status:?}");
    assert!(!status.last_attempt_failed, "{status:?}");
    unfinished
}

/// Kills upgraders of `write`'s module at `kills` random moments (a few per database), finishes
/// each database with `resume`/`upgrade` alone, and compares it with an uninterrupted run.
async fn kill_and_compare(backend: Backend, kills: usize, write: impl Fn(&Sandbox)) {
    let reference = Sandbox::new(backend).await;
    write(&reference);
    let started = Instant::now();
    let out = reference.cli(WASMIG, &["upgrade"]);
    let horizon = started.elapsed();
    assert!(out.success(), "{out:?}");
    let expected = outcome(&reference).await;

    let mut rng = XorShift::from_clock();
    let (mut killed, mut databases, mut resumes) = (0, 0, 0);
    let (mut unfinished, mut in_flight) = (0, 0);
    while killed < kills {
        databases += 1;
        let sandbox = Sandbox::new(backend).await;
        write(&sandbox);
        for _ in 0..4 {
            if !kill_at_random(&sandbox, &mut rng, horizon).await {
                continue;
            }
            killed += 1;
            let status = sandbox.host().await.status().await.unwrap().remove(0);
            unfinished += usize::from(matches!(status.action, Action::Unfinished { .. }));
            in_flight += usize::from(statement_in_flight(&sandbox).await);
        }
        resumes += usize::from(finish_once(&sandbox).await);
        let got = outcome(&sandbox).await;
        let differences = got
            .0
            .differences(&expected.0, ("after kills", "uninterrupted"));
        assert!(differences.is_empty(), "{differences}");
        assert_eq!(got.1, expected.1, "rows per table");
    }
    eprintln!(
        "{backend:?}: {killed} kills over {databases} databases ({horizon:?} per uninterrupted \
         run); {unfinished} left the module unfinished, {in_flight} with a statement in flight \
         that the server may have completed; {resumes} databases finished by a resume, none \
         needed a repair"
    );
    // The kills reached the moments this test is about.
    assert!(
        unfinished >= kills / 10,
        "{unfinished} kills left the module unfinished"
    );
    assert!(in_flight > 0, "no kill caught a statement in flight");
}

/// True when the ledger's journal holds a statement that was about to commit by itself, or
/// committing, when its upgrader died.
async fn statement_in_flight(sandbox: &Sandbox) -> bool {
    let tables = sandbox.tables().await;
    if !tables.iter().any(|t| t == "wasmig_journal") {
        return false;
    }
    sandbox
        .integer("SELECT COUNT(*) FROM wasmig_journal WHERE intent IS NOT NULL")
        .await
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_history_survives_a_hundred_kills() {
    let corpus = Corpus::load(Backend::MySql);
    kill_and_compare(Backend::MySql, CORPUS_KILLS, |sandbox| {
        corpus.write_package(sandbox, corpus.len(), &corpus.version());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_non_transactional_step_survives_a_hundred_kills() {
    kill_and_compare(Backend::Postgres, CORPUS_KILLS, |sandbox| {
        sandbox
            .module("bulk", "1.0.0")
            .sql_step("001_create_events", BULK_TABLE)
            .sql_step("002_index_concurrently", BULK_INDEXES)
            .write();
    })
    .await;
}

/// A table large enough that building an index on it takes a while.
const BULK_TABLE: &str = "CREATE TABLE bulk_events (
    id bigint PRIMARY KEY,
    kind text NOT NULL,
    payload text NOT NULL
);
INSERT INTO bulk_events
SELECT n, 'kind-' || (n % 17), md5(n::text) FROM generate_series(1, 200000) AS n;
";

/// A non-transactional step as real ones are: data changes and indexes built without
/// blocking writers, each statement committing by itself.
const BULK_INDEXES: &str = "-- wasmig:no-transaction
-- Built without locking writers out; each statement commits by itself.
UPDATE bulk_events SET kind = upper(kind) WHERE id % 3 = 0;
CREATE INDEX CONCURRENTLY bulk_events_kind ON bulk_events (kind);
INSERT INTO bulk_events SELECT n, 'late', md5(n::text) FROM generate_series(200001, 200500) AS n;
CREATE UNIQUE INDEX CONCURRENTLY bulk_events_payload ON bulk_events (payload, id);
ALTER TABLE bulk_events ADD COLUMN seen boolean NOT NULL DEFAULT false;
CREATE INDEX CONCURRENTLY bulk_events_unseen ON bulk_events (id) WHERE NOT seen;
DELETE FROM bulk_events WHERE kind = 'late' AND id % 2 = 0;
";
