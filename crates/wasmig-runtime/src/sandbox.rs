//! The guest's world: a WASI context that grants nothing, fixed clocks, seeded randomness,
//! captured output and a memory limit.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx};

/// A WASI context with no preopened directory, no network, no environment and no arguments;
/// clocks and randomness derived from `seed` only; stdout and stderr into `output`.
pub(crate) fn wasi_context(seed: [u8; 32], output: &CapturedOutput) -> WasiCtx {
    let mut insecure_seed = [0u8; 16];
    insecure_seed.copy_from_slice(&seed[..16]);
    WasiCtx::builder()
        .stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FixedWallClock)
        .monotonic_clock(SteppingClock::default())
        .secure_random(StdRng::from_seed(seed))
        .insecure_random(StdRng::from_seed(seed))
        .insecure_random_seed(u128::from_le_bytes(insecure_seed))
        .build()
}

/// The wall clock a step sees: always the Unix epoch, so a step cannot depend on the time.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that advances one microsecond per reading: deterministic, yet never stuck.
#[derive(Default)]
struct SteppingClock(AtomicU64);

impl HostMonotonicClock for SteppingClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, Ordering::Relaxed)
    }
}

/// The guest's stdout and stderr, kept up to a size; what goes beyond is dropped, not refused,
/// so a chatty guest does not fail because of its logging.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
    truncated: Arc<AtomicBool>,
}

impl CapturedOutput {
    pub(crate) fn new(capacity: usize) -> Self {
        CapturedOutput {
            buffer: Arc::default(),
            capacity,
            truncated: Arc::default(),
        }
    }

    /// Everything captured, as text.
    pub(crate) fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&buffer).into_owned();
        if self.truncated.load(Ordering::Relaxed) {
            text.push_str("\n[output truncated]");
        }
        text
    }

    /// The last `chars` characters of the output, trimmed, on one line.
    pub(crate) fn tail(&self, chars: usize) -> String {
        let text = self.text();
        let text = text.trim();
        let start = text.char_indices().rev().nth(chars).map_or(0, |(i, _)| i);
        text[start..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        if data.len() > room {
            self.truncated.store(true, Ordering::Relaxed);
        }
        buffer.extend_from_slice(&data[..data.len().min(room)]);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Refuses memory growth past a limit and remembers that it did, to name the cause of the
/// trap that usually follows.
pub(crate) struct MemoryLimiter {
    memory_bytes: usize,
    exceeded: bool,
}

/// Table elements a guest may allocate (function tables of ordinary programs stay far below).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    pub(crate) fn new(memory_bytes: usize) -> Self {
        MemoryLimiter {
            memory_bytes,
            exceeded: false,
        }
    }

    pub(crate) fn was_exceeded(&self) -> bool {
        self.exceeded
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.exceeded |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
