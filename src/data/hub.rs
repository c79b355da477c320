//! MNIST (or Fashion-MNIST) from the Hugging Face Hub, through hf-hub's cache.
//!
//! The Hub serves MNIST as the dataset `ylecun/mnist` at revision
//! `refs/convert/parquet`, and Fashion-MNIST as `zalando-datasets/fashion_mnist`
//! at the same revision ([`Dataset::hub`] has the names), one parquet file per
//! split with two columns: `image`, a struct `{bytes: PNG, path}`, and
//! `label`, an `int64`, read by [`read_parquet`] (module [`super::parquet`]).
//!
//! Files are fetched with hf-hub into its cache (`$HF_HUB_CACHE`, else
//! `$HF_HOME/hub`, else `~/.cache/huggingface/hub`), in the layout
//! `datasets--ylecun--mnist/refs/refs/convert/parquet` (a commit sha) and
//! `datasets--ylecun--mnist/snapshots/<sha>/mnist/{train,test}/0000.parquet`
//! (`datasets--zalando-datasets--fashion_mnist/.../fashion_mnist/train/...`).
//! Once there, no network is used again. With `offline` in [`HubOptions`]
//! (`HF_HUB_OFFLINE=1` for [`Mnist::load`](super::Mnist::load), which reads
//! hf-hub's variables through [`HubOptions::from_env`]) the network is
//! never touched.

pub use super::parquet::read_parquet;
use super::Dataset;
use crate::error::{Error, Result};
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};
use std::path::PathBuf;

/// Where and how to look for a data set on the Hub.
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
    /// Which data set (MNIST by default).
    pub dataset: Dataset,
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

fn repo(dataset: Dataset) -> Repo {
    let layout = dataset.hub();
    let (name, revision) = (layout.repo.to_string(), layout.revision.to_string());
    Repo::with_revision(name, RepoType::Dataset, revision)
}

/// How to get `dataset`, for error messages.
pub(crate) fn how_to_get(dataset: Dataset) -> String {
    let (name, repo, env) = (dataset.name(), dataset.hub().repo, dataset.dir_env());
    let (mirror, debian) = match dataset {
        Dataset::Mnist => ("any MNIST mirror", ""),
        Dataset::FashionMnist => (
            "github.com/zalandoresearch/fashion-mnist",
            "; on Debian, apt install dataset-fashion-mnist puts them where they are found \
             with no setting",
        ),
    };
    format!(
        "To get {name}, either run once with a network connection (it is downloaded from the \
         Hugging Face Hub, dataset {repo}, about 20-30 MB, and cached), or put the four IDX \
         files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
         t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, from {mirror}) in a directory \
         and set {env} to it{debian}"
    )
}

/// The local paths of the train and test parquet files, downloading them
/// into the cache if they are not there yet (and the options allow it).
pub fn fetch(options: &HubOptions) -> Result<(PathBuf, PathBuf)> {
    let dataset = options.dataset;
    let layout = dataset.hub();
    let (name, how) = (dataset.name(), how_to_get(dataset));
    let cache_dir = options.cache_dir();
    let cached = Cache::new(cache_dir.clone()).repo(repo(dataset));
    if let (Some(train), Some(test)) = (cached.get(layout.train_file), cached.get(layout.test_file))
    {
        return Ok((train, test));
    }
    if options.offline {
        return Err(Error::DatasetUnavailable(format!(
            "{name} is not in the Hugging Face cache at {} and offline mode is on \
             (HF_HUB_OFFLINE). {how}.",
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
            "{name} is not in the Hugging Face cache at {} and could not be downloaded \
             ({reason}). {how}.",
            cache_dir.display()
        ))
    };
    let api = builder.build().map_err(|e| unavailable(e.to_string()))?;
    let api_repo = api.repo(repo(dataset));
    let get = |file: &str| api_repo.get(file).map_err(|e| unavailable(e.to_string()));
    Ok((get(layout.train_file)?, get(layout.test_file)?))
}
