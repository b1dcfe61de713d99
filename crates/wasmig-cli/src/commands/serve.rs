//! `wasmig serve`: the HTTP API, until Ctrl-C or SIGTERM (which cancel the running job and
//! wait for its step to roll back).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use wasmig_engine::Host;
use wasmig_serve::{App, Token};

use crate::options::{RunArgs, Target};

/// The environment variable a token can come from.
const TOKEN_VARIABLE: &str = "WASMIG_TOKEN";

// Where to listen, the token, and how jobs run.
#[derive(Debug, Args)]
pub struct Serve {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Listen on an address other machines can reach (refused otherwise). The token travels
    /// with every request: put a TLS proxy in front.
    #[arg(long)]
    allow_remote: bool,
    /// A file holding the token every request must carry (`Authorization: Bearer TOKEN`), at
    /// least 16 characters. Without it the token is read from $WASMIG_TOKEN; without either a
    /// random one is made and printed once.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Where jobs asked to back up (`"backup": true`) write their backups.
    #[arg(long, value_name = "DIR", default_value = ".")]
    backup_dir: PathBuf,
    #[command(flatten)]
    limits: RunArgs,
}

impl Serve {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            anyhow::bail!(
                "refusing to listen on {}: other machines could reach it; pass --allow-remote \
                 to mean it (behind a TLS proxy: the token travels with every request)",
                self.listen
            );
        }
        let (token, generated) = self.token()?;
        let mut settings = self.limits.settings(None);
        settings.component_cache = target.component_cache()?;
        let host =
            Host::open_with(&target.database, target.modules.clone(), settings.clone()).await?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        let address = listener.local_addr()?;
        if !address.ip().is_loopback() {
            eprintln!(
                "warning: listening on {address}, reachable from other machines; requests and \
                 their token travel in clear unless a TLS proxy is in front"
            );
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}/")?;
        if generated {
            writeln!(
                stdout,
                "token (shown once; send it as `Authorization: Bearer TOKEN`): {}",
                token.reveal()
            )?;
        }
        stdout.flush()?;
        drop(stdout);
        let app = App::new(host, settings, self.backup_dir, token);
        app.serve(listener, stopped(app.clone())).await?;
        Ok(ExitCode::SUCCESS)
    }

    /// The token from `--token-file` or the environment, or a random one (then `true`).
    fn token(&self) -> anyhow::Result<(Token, bool)> {
        if let Some(file) = &self.token_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?;
            let token =
                Token::new(&text).with_context(|| format!("the token in {}", file.display()))?;
            return Ok((token, false));
        }
        if let Some(text) = std::env::var_os(TOKEN_VARIABLE) {
            let text = text
                .into_string()
                .map_err(|_| anyhow::anyhow!("${TOKEN_VARIABLE} is not valid UTF-8"))?;
            let token = Token::new(&text).with_context(|| format!("${TOKEN_VARIABLE}"))?;
            return Ok((token, false));
        }
        Ok((Token::random()?, true))
    }
}

/// Completes on Ctrl-C or SIGTERM once the running job has stopped; a second Ctrl-C quits
/// at once.
async fn stopped(app: App) {
    terminated().await;
    eprintln!("stopping: the running job, if any, is cancelled after its step rolls back");
    tokio::select! {
        () = app.shutdown() => {}
        _ = tokio::signal::ctrl_c() => std::process::exit(130),
    }
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
