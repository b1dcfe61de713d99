//! Dependencies between modules: a module runs only when every module it depends on is (or,
//! for `status`, will be) at a version its `depends` accepts.

use std::collections::BTreeMap;

use semver::Version;
use wasmig_manifest::Package;

use crate::{Action, ModulePlan, Recorded, Refusal};

/// The version each module is at, as an upgrade goes along.
#[derive(Debug, Default)]
pub(crate) struct Versions(BTreeMap<String, Option<Version>>);

impl Versions {
    /// The versions the ledger records.
    pub fn from_ledger(ledger: &BTreeMap<String, Recorded>) -> Self {
        Versions(
            ledger
                .iter()
                .map(|(name, r)| {
                    (
                        name.clone(),
                        r.record.as_ref().and_then(|r| r.version.clone()),
                    )
                })
                .collect(),
        )
    }

    /// Records where a module stands after its upgrade.
    pub fn set(&mut self, module: &str, version: Option<Version>) {
        self.0.insert(module.to_owned(), version);
    }

    /// Refuses `plan` when a module it depends on is missing or at a version it does not accept.
    pub fn block_unmet(&self, plan: &mut ModulePlan, package: &Package) {
        if !plan.has_work() {
            return;
        }
        let unmet: Vec<String> = package
            .manifest
            .depends
            .iter()
            .filter_map(|(dependency, wanted)| {
                let found = self.0.get(dependency).cloned().flatten();
                match found {
                    Some(version) if wanted.matches(&version) => None,
                    Some(version) => Some(format!(
                        "needs module `{dependency}` {wanted}, which is at {version}"
                    )),
                    None => Some(format!(
                        "needs module `{dependency}` {wanted}, which is not installed"
                    )),
                }
            })
            .collect();
        if !unmet.is_empty() {
            plan.action = Action::Refused {
                refusal: Refusal::Dependency { unmet },
            };
            plan.pending.clear();
        }
    }
}

/// For `status`: refuses the plans whose dependencies will not be met once the modules they
/// depend on have run their own plans. `plans` follow `packages`' dependency order.
pub(crate) fn block_unmet(plans: &mut [ModulePlan], packages: &[Package]) {
    let mut versions = Versions::default();
    for plan in plans.iter() {
        versions.set(&plan.module, plan.installed_version.clone());
    }
    for (plan, package) in plans.iter_mut().zip(packages) {
        versions.block_unmet(plan, package);
        let after = match plan.action {
            Action::Install | Action::Apply { .. } | Action::UpToDate => {
                plan.header_version.clone()
            }
            _ => plan.installed_version.clone(),
        };
        versions.set(&plan.module, after);
    }
}
