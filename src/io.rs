//! Writing files so that a run killed at any moment never leaves half a file.
//!
//! Every output of the crate (figures, models, histories) goes through
//! [`write_atomic`]: the bytes go to a temporary file in the same directory,
//! which is then renamed over the destination. A rename within one file system
//! is atomic, so readers see either the old file or the new one, never a mix.
//! Each write has its own temporary name, so two writers of one path (two
//! threads, two notebook cells, two processes) never share a temporary file.
//!
//! A write that fails (a full disk, a directory that cannot be written to)
//! returns [`Error::Write`], which names the destination and says what to do.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically, creating parent directories as needed.
///
/// ```
/// let dir = std::env::temp_dir().join("faw-doc-write-atomic");
/// let path = dir.join("hello.txt");
/// filters_are_weights::io::write_atomic(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    with_temp_file(path, |tmp| {
        let mut file = std::fs::File::create(tmp).map_err(|e| Error::write(path, e))?;
        file.write_all(bytes).map_err(|e| Error::write(path, e))?;
        file.sync_all().map_err(|e| Error::write(path, e))
    })
}

/// A temporary name beside `name` that no other write uses: the process id,
/// a per-process counter and the clock (a notebook may hold several copies
/// of this crate, each with its own counter).
fn temp_name(name: &std::ffi::OsStr) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        ".{}.tmp-{}-{}-{nanos}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `tensors` to `path` as a safetensors file, atomically.
///
/// The file is put together in memory first (a model is about 5 MB), so
/// that every failure to write is an [`Error::Write`] naming `path`.
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
) -> Result<()> {
    let bytes = safetensors_bytes(tensors, &path.as_ref().display().to_string())?;
    write_atomic(path, &bytes)
}

/// `tensors` as the bytes of a safetensors file (`what` names it in the
/// error): what [`write_safetensors`] writes, and the page downloads.
pub fn safetensors_bytes(
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    what: &str,
) -> Result<Vec<u8>> {
    safetensors::serialize(tensors.iter(), None)
        .map_err(|e| Error::Internal(format!("cannot put the tensors for {what} together: {e}")))
}

/// Lets `write` fill a temporary file beside `path`, then renames it to `path`.
///
/// If `write` fails the temporary file is removed and `path` is untouched.
fn with_temp_file(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::write(path, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::BadArgument(format!("{} is not a file path", path.display())))?;
    let tmp = parent.join(temp_name(name));
    let written = write(&tmp);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::write(path, e)
    })
}

/// Writes `picture` to `path` as a PNG file, atomically.
pub fn write_png(path: impl AsRef<Path>, picture: &image::GrayImage) -> Result<()> {
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Plot(e.to_string()))?;
    write_atomic(path, &png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        write_atomic(&path, b"old").unwrap();
        let r = with_temp_file(&path, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(Error::Internal("interrupted".into()))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
    }

    #[test]
    fn writers_of_one_path_never_share_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figure.png");
        // Many threads write the same path at once; each must write whole.
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(path, &[t; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "two writes mixed");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
    }

    #[test]
    fn a_write_error_names_the_destination_and_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where a directory should be.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, b"x").unwrap();
        let msg = write_atomic(blocker.join("out.png"), b"png")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("could not write") && msg.contains("out.png"),
            "{msg}"
        );
        assert!(
            msg.contains("write somewhere else") && !msg.contains("--"),
            "{msg}"
        );
    }
}
