//! The ledger's transitions, by name: every write an upgrade, a resume, a repair, an
//! uninstall or a restore makes to the history and the module rows goes through [`Ledger`],
//! inside the caller's transaction.

use wasmig_db::Transaction;

use crate::{HistoryEntry, ModuleRecord, ModuleStatus, Outcome, Result};

/// The ledger, written inside one transaction.
pub struct Ledger<'t> {
    tx: &'t mut Transaction,
}

impl<'t> Ledger<'t> {
    /// The ledger as `tx` writes it.
    pub fn new(tx: &'t mut Transaction) -> Self {
        Ledger { tx }
    }

    /// A step that commits in pieces begins: its row and its module say running. Committed
    /// before the step runs, so that a crash leaves a trace a resume acts on.
    pub async fn begin_step(
        &mut self,
        entry: &HistoryEntry,
        module: &mut ModuleRecord,
    ) -> Result<()> {
        let running = HistoryEntry {
            outcome: Outcome::Running,
            ..entry.clone()
        };
        crate::record(self.tx, &running).await?;
        module.status = ModuleStatus::Running;
        module.updated_at = entry.started_at.clone();
        crate::save_module(self.tx, module).await
    }

    /// A step (or install, uninstall) applied: its row, closing the one [`Ledger::begin_step`]
    /// wrote when `begun`; its journal cleared.
    pub async fn mark_applied(&mut self, entry: &HistoryEntry, begun: bool) -> Result<()> {
        self.close(entry, Outcome::Applied, begun).await?;
        if begun {
            crate::journal_clear(self.tx, &entry.module, entry.step).await?;
        }
        Ok(())
    }

    /// A step the install component covered: it did not run.
    pub async fn mark_covered(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.close(entry, Outcome::Covered, false).await
    }

    /// A step that failed (rolled back where the database allows it), closing the row
    /// [`Ledger::begin_step`] wrote when `begun`.
    pub async fn mark_failed(&mut self, entry: &HistoryEntry, begun: bool) -> Result<()> {
        self.close(entry, Outcome::Failed, begun).await
    }

    /// The running row of a process that died before its step finished.
    pub async fn mark_interrupted(&mut self, running: &HistoryEntry, at: &str) -> Result<()> {
        let interrupted = HistoryEntry {
            outcome: Outcome::Interrupted,
            finished_at: at.to_owned(),
            error: Some("the process running this step stopped before it finished".into()),
            ..running.clone()
        };
        crate::finish(self.tx, &interrupted).await
    }

    /// A changed step file an operator accepted (nothing ran).
    pub async fn mark_accepted(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.close(entry, Outcome::Accepted, false).await
    }

    /// A module brought back from a backup.
    pub async fn mark_restored(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.close(entry, Outcome::Restored, false).await
    }

    /// An unfinished step an operator settled by hand: its journal is done with.
    pub async fn settle_journal(&mut self, module: &str, step: u32) -> Result<()> {
        crate::journal_clear(self.tx, module, step).await
    }

    /// The module's row, as it is now.
    pub async fn save_module(&mut self, module: &ModuleRecord) -> Result<()> {
        crate::save_module(self.tx, module).await
    }

    /// An uninstalled module: its row and its objects' owner rows go (its history stays), and
    /// it stays inactive so that no upgrade installs it again unasked.
    pub async fn mark_uninstalled(&mut self, entry: &HistoryEntry) -> Result<()> {
        crate::forget_module(self.tx, &entry.module).await?;
        crate::set_active(self.tx, &entry.module, false).await?;
        self.close(entry, Outcome::Applied, false).await
    }

    /// Writes `entry` with `outcome`: closes the running row when `begun`, appends one else.
    async fn close(&mut self, entry: &HistoryEntry, outcome: Outcome, begun: bool) -> Result<()> {
        let entry = HistoryEntry {
            outcome,
            ..entry.clone()
        };
        if begun {
            crate::finish(self.tx, &entry).await
        } else {
            crate::record(self.tx, &entry).await
        }
    }
}
