//! Helpers for reading rows back and for statements that must touch one row.

use crate::StoreError;

/// Turns a value read back from the database into a domain type, or a clear error.
pub(crate) fn invalid<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Invalid(format!("{what}: {e}"))
}

/// Ok when a statement touched its one row, NotFound otherwise.
pub(crate) fn one_row(affected: u64, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if affected == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(what()))
    }
}
