//! What the operator can type next: the engine reports what happened, the command line adds
//! the `wasmig …` commands that deal with it.

use wasmig_engine::{Action, Failure, FailureKind, ModulePlan, Refusal};

/// A refusal of `module`, with what to do about it.
pub fn refusal(module: &str, refusal: &Refusal) -> String {
    let hint = match refusal {
        Refusal::HostApi { .. } => "; upgrade wasmig, or run with --force at your own risk".into(),
        Refusal::StepChanged { .. } => format!(
            ": restore the file as it was applied, or, once you have checked that the change is \
             harmless, run `wasmig repair {module} --accept-changed`"
        ),
        Refusal::Unenforced { .. } => {
            ". Accept that explicitly to run them (`--policy-only`)".into()
        }
        _ => String::new(),
    };
    format!("{refusal}{hint}")
}

/// How to continue a module left with an unfinished step.
pub fn unfinished(module: &str) -> String {
    format!(
        ": run `wasmig resume {module}` to replay it (statements already committed are \
         skipped), or check the schema and run `wasmig repair {module} --mark-applied STEP` or \
         `--mark-failed STEP`"
    )
}

/// What a plan says of a module it refuses or finds unfinished; `None` for other actions.
pub fn blocked(plan: &ModulePlan) -> Option<String> {
    match &plan.action {
        Action::Refused { refusal } => {
            Some(format!("refused: {}", self::refusal(&plan.module, refusal)))
        }
        Action::Unfinished { step, status } => Some(format!(
            "unfinished: {}{}",
            Action::unfinished_reason(step, *status),
            unfinished(&plan.module)
        )),
        _ => None,
    }
}

/// A failed module, as the error line shows it.
pub fn failure(failure: &Failure) -> String {
    let module = &failure.module;
    let hint = match &failure.kind {
        FailureKind::Refused { refusal } => {
            return format!("{module}: {}", self::refusal(module, refusal));
        }
        // A resume would fail the same way: only a repair settles it.
        FailureKind::NotStarted => return format!("{failure}; use `wasmig repair`"),
        FailureKind::Locked => "; run `wasmig resume` again once it finished",
        _ => "",
    };
    let next = if failure.unfinished {
        unfinished(module)
    } else {
        String::new()
    };
    format!("{failure}{hint}{next}")
}
