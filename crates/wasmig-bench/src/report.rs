//! The figures, printed as a Markdown table.

use std::time::Duration;

/// One figure: wasmig's beside a baseline's.
pub struct Row {
    /// What was measured.
    pub work: String,
    /// The backend it ran on.
    pub backend: &'static str,
    /// wasmig's median.
    pub ours: Figure,
    /// What wasmig is compared with.
    pub baseline: String,
    /// The baseline's median.
    pub theirs: Figure,
}

/// A measured quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    /// A time.
    Time(Duration),
    /// A process's peak resident memory, in bytes.
    Memory(u64),
}

impl Figure {
    fn value(self) -> f64 {
        match self {
            Figure::Time(time) => time.as_secs_f64(),
            Figure::Memory(bytes) => bytes as f64,
        }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Figure::Time(time) => f.write_str(&millis(*time)),
            Figure::Memory(bytes) => write!(f, "{:.1} MiB", *bytes as f64 / f64::from(1 << 20)),
        }
    }
}

/// The figures of one run.
pub struct Report {
    only: Option<String>,
    rows: Vec<Row>,
    /// True when only wasmig's side is measured.
    pub ours_only: bool,
}

impl Report {
    /// An empty report that keeps only the work named like `only`, when given.
    pub fn new(only: Option<String>, ours_only: bool) -> Self {
        Report {
            only,
            rows: Vec::new(),
            ours_only,
        }
    }

    /// True when the figure for `work` is wanted.
    pub fn wants(&self, work: &str) -> bool {
        self.only.as_deref().is_none_or(|only| work.contains(only))
    }

    /// Adds a figure and says it on stderr at once.
    pub fn add(&mut self, row: Row) {
        eprintln!(
            "{} [{}]: {} vs {} {} ({:.2}x)",
            row.work,
            row.backend,
            row.ours,
            row.baseline,
            row.theirs,
            ratio(&row)
        );
        self.rows.push(row);
    }

    /// Prints the machine and every figure.
    pub fn print(&self) {
        println!("{}\n", machine());
        println!("| work | backend | wasmig | baseline | ratio |");
        println!("|---|---|---|---|---|");
        for row in &self.rows {
            println!(
                "| {} | {} | {} | {} {} | {:.2}× |",
                row.work,
                row.backend,
                row.ours,
                row.baseline,
                row.theirs,
                ratio(row)
            );
        }
    }
}

fn ratio(row: &Row) -> f64 {
    row.ours.value() / row.theirs.value().max(1e-9)
}

fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The CPU and core count, from `/proc/cpuinfo` where there is one.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!("Machine: {cpu}, {cores} cores available; release build; medians.")
}

/// The median of `times` (of any figures).
pub fn median<T: Ord + Copy + Default>(mut times: Vec<T>) -> T {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
