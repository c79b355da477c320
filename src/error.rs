//! One error type for the whole crate.
//!
//! Every message says what happened and, where the fix is not obvious, what to
//! do about it: a learner should never need a stack trace to get going again.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in this crate, by kind. Its messages speak of
/// the library's own settings; the command line adds its options where it
/// reports them. New kinds may be added: match with a `_` arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file could not be written (a full disk, a directory that cannot be
    /// written to, ...). Nothing half-written is left behind.
    #[error("could not write {}: {source}. {}", path.display(), write_advice(source))]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A data file (IDX, parquet, PNG inside parquet) has bad content.
    #[error("{}: {problem}", path.display())]
    BadData {
        /// The file whose content is wrong.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        problem: String,
    },
    /// The files hold another data set than the one asked for (told by
    /// their labels: [`crate::data::Dataset::recognise`]).
    #[error(
        "{from}: these files hold {found}, not {asked} (their labels begin as {found}'s \
         do); give {asked}'s own files for {asked}, or ask for {found}"
    )]
    WrongDataset {
        /// Where the files came from.
        from: String,
        /// The data set asked for.
        asked: crate::data::Dataset,
        /// The data set the files hold.
        found: crate::data::Dataset,
    },
    /// The dataset could not be found or fetched.
    #[error("{0}")]
    DatasetUnavailable(String),
    /// A picture could not be opened or decoded.
    #[error("picture {}: {problem}", path.display())]
    Picture {
        /// The picture's path.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A model file or checkpoint does not fit the model, or a checkpoint
    /// does not fit the run that would resume from it.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint {
        /// The checkpoint's path.
        path: PathBuf,
        /// What does not fit.
        problem: String,
    },
    /// A run cannot resume from what a folder holds: a checkpoint or results
    /// made with other settings or data.
    #[error("{}: cannot resume from it: {problem}", path.display())]
    CannotResume {
        /// The checkpoint or results file.
        path: PathBuf,
        /// What differs, and what to do.
        problem: String,
    },
    /// A link to a run cannot be read ([`crate::link::RunLink::parse`]).
    #[error("this link cannot be replayed: {0}")]
    Link(#[from] crate::link::LinkError),
    /// Training diverged: the loss became NaN or infinite.
    #[error(
        "training diverged: the loss became {loss} in epoch {epoch}, batch {batch}. \
         This usually means the learning rate is too high for the optimizer, or the \
         input was not scaled to 0..1; lower the learning rate or check the data"
    )]
    NonFiniteLoss {
        /// Epoch (1-based) in which it happened.
        epoch: usize,
        /// Batch (1-based, within the epoch) in which it happened.
        batch: usize,
        /// The loss value seen.
        loss: f32,
    },
    /// A setting is out of range (epochs, batch size, snapshots, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The device asked for is not there, or this build cannot use it.
    #[error("{0}")]
    DeviceUnavailable(String),
    /// A function was given something it cannot work with: a tensor of
    /// another shape, an empty data set, a name it does not know.
    #[error("{0}")]
    BadArgument(String),
    /// An error from candle (tensor maths).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// Drawing a figure failed.
    #[error("drawing a figure failed: {0}")]
    Plot(String),
    /// Something this crate should never do happened (a bug): the message
    /// says what.
    #[error("internal error: {0}; please report it")]
    Internal(String),
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

/// What to do about a failed write, by its cause.
fn write_advice(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    match e.kind() {
        ErrorKind::StorageFull => {
            "The disk is full: free some space there, or write somewhere else"
        }
        _ if matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT)) => {
            "The disk (or your quota on it) is full: free some space there, or write \
             somewhere else"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "That place cannot be written to: choose a directory you may write to"
        }
        _ => "Check that the directory can be written to, or write somewhere else",
    }
}
