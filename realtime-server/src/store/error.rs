//! Store errors. None of them panics the process: the broker logs them and stops
//! acknowledging what the store could not make durable.

use super::records::StoreOp;
use std::fmt;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The storage engine failed (I/O error, full disk, failed fsync...). Sticky:
    /// once a commit has failed, every later ticket and submit reports
    /// [`StoreError::Failed`], because what is on disk no longer matches what was
    /// submitted; the broker must stop acknowledging and be restarted.
    Engine {
        /// What the store was doing.
        context: &'static str,
        /// The engine's message.
        message: String,
    },
    /// A stored record could not be decoded (damaged file or unknown format).
    Corrupt {
        /// Table holding the record.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The batch broke a rule of the store's data model; nothing of it was applied.
    InvalidOp {
        /// Index of the offending op in the batch.
        index: usize,
        /// The rule broken.
        reason: String,
    },
    /// The queue of ops waiting for the writer holds more than its bound; retry
    /// after [`Store::ready`](crate::store::Store::ready).
    Backlogged {
        /// Bytes pending when the batch was refused.
        pending_bytes: usize,
        /// The bound ([`StoreOptions::max_pending_bytes`](crate::store::StoreOptions::max_pending_bytes)).
        limit: usize,
    },
    /// An earlier commit failed (the first error is kept); nothing more is accepted.
    Failed(Box<StoreError>),
    /// The writer thread is gone (the store is shutting down).
    Closed,
}

impl StoreError {
    pub(crate) fn engine(context: &'static str, e: impl fmt::Display) -> Self {
        StoreError::Engine {
            context,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Engine { context, message } => {
                write!(f, "storage engine error while {context}: {message}")
            }
            StoreError::Corrupt { table, reason } => {
                write!(f, "corrupt record in table {table}: {reason}")
            }
            StoreError::InvalidOp { index, reason } => {
                write!(f, "store op #{index} rejected: {reason}")
            }
            StoreError::Backlogged {
                pending_bytes,
                limit,
            } => write!(
                f,
                "store backlogged: {pending_bytes} bytes pending, bound {limit}"
            ),
            StoreError::Failed(first) => write!(f, "store failed earlier: {first}"),
            StoreError::Closed => f.write_str("store closed"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A refused [`Store::submit`](crate::store::Store::submit): the error and the
/// ops, handed back untouched so that the caller can retry or report them.
#[derive(Debug)]
pub struct SubmitError {
    /// Why the batch was refused.
    pub error: StoreError,
    /// The batch, none of it applied.
    pub ops: Vec<StoreOp>,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} ops not applied)", self.error, self.ops.len())
    }
}

impl std::error::Error for SubmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
