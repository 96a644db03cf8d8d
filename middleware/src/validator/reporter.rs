//! What happens when a rule is broken: always recorded (and logged), then,
//! depending on [`OnViolation`], nothing more, an error, or a panic.

use gateway_spec::AppError;

use super::violation::{Violation, Violations};
use super::OnViolation;

/// Records violations for one validator and applies its [`OnViolation`]
/// policy. `Send`, so the checked `wsgi.input` can carry one.
#[derive(Debug, Clone)]
pub(super) struct Reporter {
    pub(super) violations: Violations,
    pub(super) on_violation: OnViolation,
}

impl Reporter {
    /// Record `violation`; `Err` (the violation itself) when the policy is to
    /// fail the request.
    ///
    /// # Panics
    /// With the violation's message when the policy is [`OnViolation::Panic`].
    pub(super) fn report(&self, violation: Violation) -> Result<(), AppError> {
        log::warn!(target: "middleware::validator", "{violation}");
        self.violations.record(violation.clone());
        match self.on_violation {
            OnViolation::Record => Ok(()),
            OnViolation::Fail => Err(Box::new(violation)),
            OnViolation::Panic => panic!("{violation}"),
        }
    }
}
