//! One error type for the whole crate.
//!
//! Every message says what happened and, where the fix is not obvious, what to
//! do about it: a learner should never need a stack trace to get going again.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in this crate.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read.
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file could not be written (a full disk, a directory that cannot be
    /// written to, ...). Nothing half-written is left behind.
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A data file (IDX, parquet, PNG inside parquet) has bad content.
    BadData {
        /// The file whose content is wrong.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        problem: String,
    },
    /// The dataset could not be found or fetched.
    DatasetUnavailable(String),
    /// A picture could not be opened or decoded.
    Picture {
        /// The picture's path.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A model checkpoint does not fit the model.
    Checkpoint {
        /// The checkpoint's path.
        path: PathBuf,
        /// What does not fit.
        problem: String,
    },
    /// Training diverged: the loss became NaN or infinite.
    NonFiniteLoss {
        /// Epoch (1-based) in which it happened.
        epoch: usize,
        /// Batch (1-based, within the epoch) in which it happened.
        batch: usize,
        /// The loss value seen.
        loss: f32,
    },
    /// A configuration value is out of range.
    InvalidConfig(String),
    /// An error from candle (tensor maths).
    Candle(candle_core::Error),
    /// Drawing a figure failed.
    Plot(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Writing `path` failed.
    pub fn write(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Bad content in the data file at `path`.
    pub fn bad_data(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Error::BadData {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Write { path, source } => write!(
                f,
                "could not write {}: {source}. {}",
                path.display(),
                write_advice(source)
            ),
            Error::BadData { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::DatasetUnavailable(msg) => f.write_str(msg),
            Error::Picture { path, problem } => {
                write!(f, "picture {}: {problem}", path.display())
            }
            Error::Checkpoint { path, problem } => {
                write!(f, "checkpoint {}: {problem}", path.display())
            }
            Error::NonFiniteLoss { epoch, batch, loss } => write!(
                f,
                "training diverged: the loss became {loss} in epoch {epoch}, batch {batch}. \
                 This usually means the learning rate is too high for the optimizer, or the \
                 input was not scaled to 0..1; lower the learning rate or check the data"
            ),
            Error::InvalidConfig(msg) => write!(f, "invalid configuration: {msg}"),
            Error::Candle(e) => write!(f, "tensor error: {e}"),
            Error::Plot(msg) => write!(f, "drawing a figure failed: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Write { source, .. } => Some(source),
            Error::Candle(e) => Some(e),
            _ => None,
        }
    }
}

/// What to do about a failed write, by its cause.
fn write_advice(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    match e.kind() {
        ErrorKind::StorageFull => {
            "The disk is full: free some space there, or write somewhere else \
             (reproduce --out DIR)"
        }
        _ if matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT)) => {
            "The disk (or your quota on it) is full: free some space there, or write \
             somewhere else (reproduce --out DIR)"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "That place cannot be written to: choose a directory you may write to \
             (reproduce --out DIR)"
        }
        _ => {
            "Check that the directory can be written to, or write somewhere else \
             (reproduce --out DIR)"
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}
