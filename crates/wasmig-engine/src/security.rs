//! What enforces a module's boundary on the database at hand, and the operator's consent
//! where only the SQL policy would: secure by default, never silently.

use std::fmt;

use serde::Serialize;
use wasmig_db::Dialect;

use crate::{Action, Host, ModulePlan, Refusal, Result};

/// Who has the last word on what a module's steps may touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Enforcement {
    /// SQLite's authorizer checks every guest statement as it compiles.
    Authorizer,
    /// PostgreSQL runs each module's statements under a role of its own.
    ModuleRoles,
    /// MariaDB/MySQL runs each module's statements with the rights of an account of its own.
    ModuleAccounts,
    /// Only wasmig's SQL policy checks; the database cannot back it up here.
    PolicyOnly {
        /// Why the database cannot, and what would let it.
        reason: String,
    },
}

impl Enforcement {
    /// True when the database itself refuses what the policy might miss.
    pub fn is_database_enforced(&self) -> bool {
        !matches!(self, Enforcement::PolicyOnly { .. })
    }
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Enforcement::Authorizer => f.write_str(
                "database-enforced: SQLite's authorizer checks every statement of a step",
            ),
            Enforcement::ModuleRoles => f.write_str(
                "database-enforced: each module's statements run under a PostgreSQL role of its own",
            ),
            Enforcement::ModuleAccounts => f.write_str(
                "database-enforced: each module's statements run with the rights of a \
                 MariaDB/MySQL account of its own",
            ),
            Enforcement::PolicyOnly { reason } => {
                write!(f, "policy only: {reason}")
            }
        }
    }
}

impl Host {
    /// What enforces the modules' boundary on this host's database.
    pub async fn enforcement(&self) -> Result<Enforcement> {
        Ok(match self.db.dialect() {
            Dialect::Sqlite => Enforcement::Authorizer,
            Dialect::Postgres if wasmig_confine::may_confine(&self.db).await? => {
                Enforcement::ModuleRoles
            }
            Dialect::Postgres => Enforcement::PolicyOnly {
                reason: "wasmig's PostgreSQL account may not create roles, so no role of the \
                         module's own confines its steps (grant the account CREATEROLE)"
                    .into(),
            },
            Dialect::MySql if wasmig_confine::may_confine(&self.db).await? => {
                Enforcement::ModuleAccounts
            }
            Dialect::MySql => Enforcement::PolicyOnly {
                reason: "wasmig's MariaDB/MySQL account may not create accounts and make them \
                         definers, so no account of the module's own confines its steps (grant \
                         it CREATE USER, SET USER and GRANT OPTION)"
                    .into(),
            },
        })
    }

    /// Lets steps run where only the SQL policy checks them (default: such steps are refused,
    /// see [`Host::enforcement`]).
    pub fn set_policy_only(&mut self, accept: bool) {
        self.policy_only = accept;
    }

    /// Why steps may not run here, when only the policy would check them and the operator
    /// did not accept that.
    pub(crate) async fn unenforced(&self) -> Result<Option<Refusal>> {
        if self.policy_only {
            return Ok(None);
        }
        Ok(match self.enforcement().await? {
            Enforcement::PolicyOnly { reason } => Some(Refusal::Unenforced { reason }),
            _ => None,
        })
    }
}

/// Refuses `plan` when it would run steps and `refusal` says they may not run here.
pub(crate) fn refuse_unenforced(plan: &mut ModulePlan, refusal: Option<&Refusal>) {
    let runs_steps = match plan.action {
        Action::Install | Action::Unfinished { .. } => true,
        Action::Apply { .. } => !plan.pending.is_empty(),
        _ => false,
    };
    if let (true, Some(refusal)) = (runs_steps, refusal) {
        plan.action = Action::Refused {
            refusal: refusal.clone(),
        };
    }
}
