//! The whole status of a database in one value: what `wasmig status --json` prints and
//! `wasmig serve` answers.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Enforcement, Host, ModulePlan, Result};

/// Every module with what an upgrade would do, the modules that drifted, who enforces the
/// modules' boundary and the maintenance flag.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Every module, as [`Host::status`] gives them.
    pub modules: Vec<ModulePlan>,
    /// Modules whose objects changed outside their steps: what differs, line by line.
    pub drift: BTreeMap<String, Vec<String>>,
    /// Who has the last word on what the modules' steps may touch.
    pub security: Enforcement,
    /// True when the database itself backs the SQL policy up.
    pub database_enforced: bool,
    /// The maintenance flag, when it is up.
    pub maintenance: Option<Maintenance>,
}

/// The maintenance flag: since when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// When it was set (RFC 3339).
    pub since: String,
    /// Why, as whoever set it wrote it.
    pub reason: String,
}

impl Host {
    /// The status of every module, the drift, the security mode and the maintenance flag.
    /// Reads only.
    pub async fn status_report(&self) -> Result<StatusReport> {
        let modules = self.status().await?;
        let drift = self
            .drift()
            .await?
            .iter()
            .map(|d| (d.module.clone(), d.lines()))
            .collect();
        let security = self.enforcement().await?;
        let maintenance = self
            .maintenance_since()
            .await?
            .map(|(since, reason)| Maintenance { since, reason });
        Ok(StatusReport {
            modules,
            drift,
            database_enforced: security.is_database_enforced(),
            security,
            maintenance,
        })
    }
}
