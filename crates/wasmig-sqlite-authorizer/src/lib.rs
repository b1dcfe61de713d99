//! SQLite's authorizer callback: the database's own check of every table, pragma and function
//! a guest statement touches, consulted while the statement is compiled. A crate of its own:
//! the FFI changes with SQLite, not with the rest of wasmig's database access (`wasmig-db`
//! installs it on a transaction's connection and re-exports it as `wasmig_db::authorizer`).

use std::ffi::{CStr, c_char, c_int, c_void};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use libsqlite3_sys as ffi;

/// What SQLite asks about while it compiles a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Reading a column of `table`.
    Read {
        /// The table (or view).
        table: &'a str,
    },
    /// Inserting into, updating or deleting from `table`.
    Write {
        /// The table.
        table: &'a str,
    },
    /// Creating an object (`table` is the table an index or trigger is on).
    Create {
        /// The new object's name.
        name: &'a str,
        /// The table it belongs to, for an index or a trigger.
        table: Option<&'a str>,
        /// True for a temporary object.
        temporary: bool,
    },
    /// Dropping an object.
    Drop {
        /// The object's name.
        name: &'a str,
        /// The table it belongs to, for an index or a trigger.
        table: Option<&'a str>,
        /// True for a temporary object.
        temporary: bool,
    },
    /// Altering `table`.
    Alter {
        /// The table.
        table: &'a str,
    },
    /// A PRAGMA.
    Pragma {
        /// Its name.
        name: &'a str,
    },
    /// Calling a function.
    Function {
        /// Its name.
        name: &'a str,
    },
    /// Rebuilding an index (SQLite asks this while creating one too).
    Reindex {
        /// The index.
        index: &'a str,
    },
    /// A plain SELECT or a recursive CTE: no object involved.
    Select,
    /// Anything else: transaction control, ATTACH/DETACH, ANALYZE, virtual tables.
    Other {
        /// What it is.
        action: &'static str,
    },
}

impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |table: &Option<&str>| table.map(|t| format!(" on `{t}`")).unwrap_or_default();
        let temp = |temporary: bool| if temporary { "temporary " } else { "" };
        match self {
            Request::Read { table } => write!(f, "read `{table}`"),
            Request::Write { table } => write!(f, "write to `{table}`"),
            Request::Create {
                name,
                table,
                temporary,
            } => write!(f, "create {}`{name}`{}", temp(*temporary), on(table)),
            Request::Drop {
                name,
                table,
                temporary,
            } => write!(f, "drop {}`{name}`{}", temp(*temporary), on(table)),
            Request::Alter { table } => write!(f, "alter `{table}`"),
            Request::Pragma { name } => write!(f, "run PRAGMA {name}"),
            Request::Function { name } => write!(f, "call the function `{name}`"),
            Request::Reindex { index } => write!(f, "rebuild the index `{index}`"),
            Request::Select => f.write_str("select"),
            Request::Other { action } => write!(f, "run {action}"),
        }
    }
}

/// Decides SQLite's authorizer requests for guest statements.
pub trait Authorizer: Send + Sync {
    /// True to allow `request` in `database` (`main`, `temp`, or an attached name).
    fn allows(&self, request: &Request<'_>, database: Option<&str>) -> bool;
}

/// What the callback receives: the decider, and whether a guest statement is being compiled
/// (the host's own statements in the same transaction are not the authorizer's business).
struct State {
    authorizer: Arc<dyn Authorizer>,
    guest: Arc<AtomicBool>,
    refused: Arc<Mutex<Vec<String>>>,
}

/// An authorizer installed on a connection; removed when dropped.
pub struct Installed {
    db: *mut ffi::sqlite3,
    state: *mut State,
    /// What the authorizer refused last, for the error message.
    refused: Arc<Mutex<Vec<String>>>,
}

// SAFETY: the handle is only used for `sqlite3_set_authorizer`, which SQLite serialises on the
// connection's mutex (the bundled library is built thread-safe); the state is only read by
// the callback.
unsafe impl Send for Installed {}

impl std::fmt::Debug for Installed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Installed")
    }
}

impl Installed {
    /// Installs `authorizer` on `db`; it decides only while `guest` is true.
    ///
    /// # Safety
    /// `db` must stay open until the returned value is dropped.
    pub unsafe fn new(
        db: *mut ffi::sqlite3,
        authorizer: Arc<dyn Authorizer>,
        guest: Arc<AtomicBool>,
    ) -> Self {
        let refused = Arc::new(Mutex::new(Vec::new()));
        let state = Box::into_raw(Box::new(State {
            authorizer,
            guest,
            refused: Arc::clone(&refused),
        }));
        // SAFETY: `db` is open (the caller's promise) and `state` lives until `drop`.
        unsafe { ffi::sqlite3_set_authorizer(db, Some(callback), state.cast()) };
        Installed { db, state, refused }
    }

    /// What the authorizer refused since the last call, in words (`drop `t` in `main``):
    /// the first refusal about an object of the database's rather than SQLite's own
    /// bookkeeping, which SQLite often asks about first.
    pub fn take_refusal(&self) -> Option<String> {
        let refused = std::mem::take(
            &mut *self
                .refused
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        refused
            .iter()
            .find(|r| !r.contains("`sqlite_"))
            .or(refused.first())
            .cloned()
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // SAFETY: the connection is still open (see `new`); after this call SQLite no longer
        // refers to `state`, which can then be freed.
        unsafe {
            ffi::sqlite3_set_authorizer(self.db, None, std::ptr::null_mut());
            drop(Box::from_raw(self.state));
        }
    }
}

unsafe extern "C" fn callback(
    state: *mut c_void,
    action: c_int,
    first: *const c_char,
    second: *const c_char,
    database: *const c_char,
    _trigger_or_view: *const c_char,
) -> c_int {
    // SAFETY: `state` is the pointer `Installed::new` registered, alive until uninstalled.
    let state = unsafe { &*(state as *const State) };
    if !state.guest.load(Ordering::Acquire) {
        return ffi::SQLITE_OK;
    }
    let text = |p: *const c_char| {
        // SAFETY: SQLite passes NUL-terminated strings or null.
        unsafe { (!p.is_null()).then(|| CStr::from_ptr(p)) }.and_then(|s| s.to_str().ok())
    };
    let (first, second, mut database) = (text(first), text(second), text(database));
    if action == ffi::SQLITE_ALTER_TABLE {
        // ALTER TABLE passes the database first; the third argument names a dropped column.
        database = first;
    }
    let request = request(action, first, second);
    let allowed = match request {
        Some(request) => catch_unwind(AssertUnwindSafe(|| {
            state.authorizer.allows(&request, database)
        }))
        .unwrap_or(false),
        None => false,
    };
    if !allowed {
        let what = match request {
            Some(request) => request.to_string(),
            None => format!("an incomplete request (action {action})"),
        };
        let place = database.map(|db| format!(" in `{db}`")).unwrap_or_default();
        let mut refused = state
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if refused.len() < 8 {
            refused.push(format!("{what}{place}"));
        }
    }
    if allowed {
        ffi::SQLITE_OK
    } else {
        ffi::SQLITE_DENY
    }
}

/// The request an authorizer action code stands for; `None` when its arguments are missing.
fn request<'a>(
    action: c_int,
    first: Option<&'a str>,
    second: Option<&'a str>,
) -> Option<Request<'a>> {
    let create = |temporary, with_table: bool| {
        Some(Request::Create {
            name: first?,
            table: if with_table { second } else { None },
            temporary,
        })
    };
    let drop = |temporary, with_table: bool| {
        Some(Request::Drop {
            name: first?,
            table: if with_table { second } else { None },
            temporary,
        })
    };
    match action {
        ffi::SQLITE_READ => Some(Request::Read { table: first? }),
        ffi::SQLITE_INSERT | ffi::SQLITE_UPDATE | ffi::SQLITE_DELETE => {
            Some(Request::Write { table: first? })
        }
        ffi::SQLITE_CREATE_TABLE | ffi::SQLITE_CREATE_VIEW => create(false, false),
        ffi::SQLITE_CREATE_INDEX | ffi::SQLITE_CREATE_TRIGGER => create(false, true),
        ffi::SQLITE_CREATE_TEMP_TABLE | ffi::SQLITE_CREATE_TEMP_VIEW => create(true, false),
        ffi::SQLITE_CREATE_TEMP_INDEX | ffi::SQLITE_CREATE_TEMP_TRIGGER => create(true, true),
        ffi::SQLITE_DROP_TABLE | ffi::SQLITE_DROP_VIEW => drop(false, false),
        ffi::SQLITE_DROP_INDEX | ffi::SQLITE_DROP_TRIGGER => drop(false, true),
        ffi::SQLITE_DROP_TEMP_TABLE | ffi::SQLITE_DROP_TEMP_VIEW => drop(true, false),
        ffi::SQLITE_DROP_TEMP_INDEX | ffi::SQLITE_DROP_TEMP_TRIGGER => drop(true, true),
        ffi::SQLITE_ALTER_TABLE => Some(Request::Alter { table: second? }),
        ffi::SQLITE_PRAGMA => Some(Request::Pragma { name: first? }),
        ffi::SQLITE_FUNCTION => Some(Request::Function { name: second? }),
        ffi::SQLITE_SELECT | ffi::SQLITE_RECURSIVE => Some(Request::Select),
        ffi::SQLITE_TRANSACTION => Some(Request::Other {
            action: "transaction control",
        }),
        ffi::SQLITE_SAVEPOINT => Some(Request::Other {
            action: "savepoint",
        }),
        ffi::SQLITE_ATTACH => Some(Request::Other { action: "ATTACH" }),
        ffi::SQLITE_DETACH => Some(Request::Other { action: "DETACH" }),
        ffi::SQLITE_ANALYZE => Some(Request::Other { action: "ANALYZE" }),
        ffi::SQLITE_REINDEX => Some(Request::Reindex { index: first? }),
        ffi::SQLITE_CREATE_VTABLE | ffi::SQLITE_DROP_VTABLE => Some(Request::Other {
            action: "virtual table",
        }),
        _ => Some(Request::Other {
            action: "unknown action",
        }),
    }
}
