//! Python steps: `migrations/NNN_slug.py` (and `install.py`, `uninstall.py`) with a function
//! `up(db)`, built into components by componentize-py against the WIT package and the Python
//! SDK (`sdk/python/wasmig`) this wasmig embeds.
//!
//! componentize-py comes from PyPI at a pinned version: `WASMIG_COMPONENTIZE_PY` names one,
//! else the first build installs it into a virtual environment under the user's cache
//! directory (`$XDG_CACHE_HOME/wasmig/tools`, else `~/.cache/wasmig/tools`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Error, Result, io_error};

/// The componentize-py release steps are built with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The Python SDK, copied beside each step as it is built.
const SDK: &str = include_str!("../../../sdk/python/wasmig/__init__.py");

/// The glue componentize-py builds: the WIT export calling the step's `up`.
const GLUE: &str = "\
from wit_world import exports
import wasmig
import wasmig_step


class Step(exports.Step):
    def up(self, db, ctx):
        wasmig._run(wasmig_step.up, db, ctx)
";

/// How long a build waits for another one installing componentize-py.
const INSTALL_WAIT: Duration = Duration::from_secs(600);

/// Builds the Python step in `file` into the component `out`.
pub fn build_step(file: &Path, out: &Path) -> Result<()> {
    let tool = componentize_py()?;
    // componentize-py runs in its own work directory: a relative output path would land there.
    let out = &std::path::absolute(out).map_err(io_error(out))?;
    let work = tempfile::tempdir().map_err(io_error(&std::env::temp_dir()))?;
    let root = work.path();
    let files = [
        ("wit/migration.wit", crate::WIT),
        ("sdk/wasmig/__init__.py", SDK),
        ("app/app.py", GLUE),
    ];
    for (relative, text) in files {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap_or(root)).map_err(io_error(&path))?;
        fs::write(&path, text).map_err(io_error(&path))?;
    }
    let step = root.join("app/wasmig_step.py");
    fs::copy(file, &step).map_err(io_error(file))?;
    eprintln!("   Compiling {} (componentize-py)", file.display());
    let status = Command::new(&tool)
        .current_dir(root)
        .args(["-d", "wit", "-w", "migration", "componentize", "app"])
        .args(["-p", "app", "-p", "sdk", "-o"])
        .arg(out)
        .status()
        .map_err(io_error(&tool))?;
    if !status.success() {
        return Err(Error::Tool {
            tool: "componentize-py".into(),
            path: file.to_owned(),
            message: format!("it failed ({status}); see its output above"),
        });
    }
    Ok(())
}

/// The componentize-py to run: `WASMIG_COMPONENTIZE_PY`, or the one installed under the
/// cache directory (installed now when missing).
fn componentize_py() -> Result<PathBuf> {
    if let Some(tool) = std::env::var_os("WASMIG_COMPONENTIZE_PY") {
        return Ok(PathBuf::from(tool));
    }
    let venv = tools_dir().join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let tool = venv.join("bin/componentize-py");
    let done = venv.join(".installed");
    let lock = venv.with_extension("lock");
    let started = Instant::now();
    loop {
        if done.is_file() {
            return Ok(tool);
        }
        fs::create_dir_all(tools_dir()).map_err(io_error(&tools_dir()))?;
        match fs::create_dir(&lock) {
            Ok(()) => {
                let installed = install(&venv);
                let _ = fs::remove_dir(&lock);
                installed?;
                fs::write(&done, COMPONENTIZE_PY_VERSION).map_err(io_error(&done))?;
                return Ok(tool);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if started.elapsed() > INSTALL_WAIT {
                    return Err(Error::Tool {
                        tool: "componentize-py".into(),
                        path: lock,
                        message: "another build has been installing it for 10 minutes; if none \
                                  is running, remove this directory"
                            .into(),
                    });
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(io_error(&lock)(e)),
        }
    }
}

/// Installs componentize-py from PyPI into a new virtual environment at `venv`.
fn install(venv: &Path) -> Result<()> {
    eprintln!(
        "wasmig: installing componentize-py {COMPONENTIZE_PY_VERSION} from PyPI into {} (once)",
        venv.display()
    );
    let _ = fs::remove_dir_all(venv);
    let package = format!("componentize-py=={COMPONENTIZE_PY_VERSION}");
    let pip = venv.join("bin/pip");
    let steps: [(&str, Vec<&std::ffi::OsStr>); 2] = [
        (
            "python3",
            vec!["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
        ),
        (
            pip.to_str().unwrap_or("pip"),
            vec!["install".as_ref(), "--quiet".as_ref(), package.as_ref()],
        ),
    ];
    for (program, args) in steps {
        let status = Command::new(program).args(&args).status();
        if !status.is_ok_and(|s| s.success()) {
            let _ = fs::remove_dir_all(venv);
            return Err(Error::Tool {
                tool: "componentize-py".into(),
                path: venv.to_owned(),
                message: format!(
                    "`{program}` failed: Python steps need Python 3 with venv and pip (and PyPI), \
                     or WASMIG_COMPONENTIZE_PY set to a componentize-py {COMPONENTIZE_PY_VERSION}"
                ),
            });
        }
    }
    Ok(())
}

/// Where wasmig keeps the tools it installs.
fn tools_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("wasmig").join("tools")
}
