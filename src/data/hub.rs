//! MNIST from the Hugging Face Hub, through hf-hub's cache.
//!
//! The Hub serves MNIST as the dataset [`REPO`] at revision [`REVISION`], one
//! parquet file per split ([`TRAIN_FILE`], [`TEST_FILE`]) with two columns:
//! `image`, a struct `{bytes: PNG, path}`, and `label`, an `int64`, read by
//! [`read_parquet`] (module [`super::parquet`]).
//!
//! Files are fetched with hf-hub into its cache (`$HF_HUB_CACHE`, else
//! `$HF_HOME/hub`, else `~/.cache/huggingface/hub`), in the layout
//! `datasets--ylecun--mnist/refs/refs/convert/parquet` (a commit sha) and
//! `datasets--ylecun--mnist/snapshots/<sha>/mnist/{train,test}/0000.parquet`.
//! Once there, no network is used again. With `offline` in [`HubOptions`]
//! (`HF_HUB_OFFLINE=1` for [`Mnist::load`](super::Mnist::load), which reads
//! hf-hub's variables through [`HubOptions::from_env`]) the network is
//! never touched.

pub use super::parquet::read_parquet;
use crate::error::{Error, Result};
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};
use std::path::PathBuf;

pub use super::hub_layout::{REPO, REVISION, TEST_FILE, TRAIN_FILE};

/// Where and how to look for MNIST on the Hub.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// The hf-hub cache directory; `None` uses hf-hub's usual place
    /// (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: Option<PathBuf>,
    /// Never use the network, only the cache (`HF_HUB_OFFLINE=1` in
    /// [`HubOptions::from_env`]).
    pub offline: bool,
    /// Another Hub address (`HF_ENDPOINT` in [`HubOptions::from_env`]).
    pub endpoint: Option<String>,
    /// Show a progress bar while downloading.
    pub progress: bool,
}

impl HubOptions {
    /// The options hf-hub's environment variables give: `HF_HUB_OFFLINE`
    /// (anything but empty or `0` means offline) and `HF_ENDPOINT`; the
    /// cache's (`HF_HUB_CACHE`, `HF_HOME`) are read by
    /// [`HubOptions::cache_dir`] when no `cache_dir` is given. What
    /// [`Mnist::load`](super::Mnist::load) uses; `HubOptions::default()`
    /// reads none of them.
    pub fn from_env() -> Self {
        HubOptions {
            offline: std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0"),
            endpoint: std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()),
            ..Default::default()
        }
    }

    /// The cache directory these options use.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
            return PathBuf::from(dir);
        }
        Cache::from_env().path().clone()
    }
}

fn repo() -> Repo {
    Repo::with_revision(REPO.to_string(), RepoType::Dataset, REVISION.to_string())
}

/// How to get MNIST, for error messages.
pub(crate) const HOW_TO_GET_MNIST: &str = "To get MNIST, either run once with a network \
connection (it is downloaded from the Hugging Face Hub, dataset ylecun/mnist, about 20 MB, \
and cached), or put the four IDX files (train-images-idx3-ubyte.gz, \
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, from \
any MNIST mirror) in a directory and set MNIST_DIR to it (or pass --data-dir)";

/// The local paths of the train and test parquet files, downloading them
/// into the cache if they are not there yet (and the options allow it).
pub fn fetch(options: &HubOptions) -> Result<(PathBuf, PathBuf)> {
    let cache_dir = options.cache_dir();
    let cached = Cache::new(cache_dir.clone()).repo(repo());
    if let (Some(train), Some(test)) = (cached.get(TRAIN_FILE), cached.get(TEST_FILE)) {
        return Ok((train, test));
    }
    if options.offline {
        return Err(Error::DatasetUnavailable(format!(
            "MNIST is not in the Hugging Face cache at {} and offline mode is on \
             (HF_HUB_OFFLINE). {HOW_TO_GET_MNIST}.",
            cache_dir.display()
        )));
    }
    let mut builder =
        ApiBuilder::from_cache(Cache::new(cache_dir.clone())).with_progress(options.progress);
    if let Some(endpoint) = options.endpoint.clone() {
        builder = builder.with_endpoint(endpoint);
    }
    let unavailable = |reason: String| {
        Error::DatasetUnavailable(format!(
            "MNIST is not in the Hugging Face cache at {} and could not be downloaded \
             ({reason}). {HOW_TO_GET_MNIST}.",
            cache_dir.display()
        ))
    };
    let api = builder.build().map_err(|e| unavailable(e.to_string()))?;
    let api_repo = api.repo(repo());
    let get = |file: &str| api_repo.get(file).map_err(|e| unavailable(e.to_string()));
    Ok((get(TRAIN_FILE)?, get(TEST_FILE)?))
}
