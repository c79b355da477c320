//! Which data set: MNIST's handwritten digits, or Zalando's Fashion-MNIST
//! pictures of clothes, shoes and bags.
//!
//! Fashion-MNIST was made as a drop-in replacement for MNIST: 60,000
//! training and 10,000 test images, 28×28 in 256 greys, ten classes, in the
//! same IDX files and, on the Hugging Face Hub, the same parquet schema. The
//! same loader reads both; what differs is where each is found and what its
//! ten classes are called. Trained on each from the same seed, the same
//! network learns different first-layer filters: the data decides them.
//!
//! | | MNIST | Fashion-MNIST |
//! |---|---|---|
//! | `--dataset` | `mnist` | `fashion-mnist` |
//! | directory variable | `MNIST_DIR` | `FASHION_MNIST_DIR` |
//! | local folders | `data/mnist/` | `data/fashion-mnist/`, then Debian's `/usr/share/datasets/fashion-mnist` (package `dataset-fashion-mnist`) |
//! | Hub dataset | `ylecun/mnist` | `zalando-datasets/fashion_mnist` |
//! | classes | the digits 0 to 9 | T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot |
//!
//! ```
//! use filters_are_weights::data::Dataset;
//! let fashion: Dataset = "fashion-mnist".parse()?;
//! assert_eq!(fashion.class_names()[9], "Ankle boot");
//! assert_eq!(fashion.hub().train_file, "fashion_mnist/train/0000.parquet");
//! assert_eq!(Dataset::Mnist.class_names()[7], "7");
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use super::CLASSES;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One of the MNIST-format data sets the crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// Yann LeCun's handwritten digits, the post's data.
    #[default]
    Mnist,
    /// Zalando's article pictures (Xiao, Rasul and Vollgraf, 2017).
    FashionMnist,
}

/// Where the Hugging Face Hub keeps one data set: read through hf-hub's
/// cache by [`super::hub`] (feature `hub`), and straight from the Hub by the
/// page (`web/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLayout {
    /// The Hub dataset, `owner/name`.
    pub repo: &'static str,
    /// The revision with the parquet conversion.
    pub revision: &'static str,
    /// The training split's file in the repository.
    pub train_file: &'static str,
    /// The test split's file in the repository.
    pub test_file: &'static str,
    /// The address a browser fetches the files from (`train_file` and
    /// `test_file` go after it, with a `/`).
    pub resolve_url: &'static str,
}

impl Dataset {
    /// Every data set, MNIST first.
    pub const ALL: [Dataset; 2] = [Dataset::Mnist, Dataset::FashionMnist];

    /// Its name, as people write it: "MNIST", "Fashion-MNIST".
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST",
            Dataset::FashionMnist => "Fashion-MNIST",
        }
    }

    /// Its name on the command line and in folder names: "mnist",
    /// "fashion-mnist" (what [`str::parse`] reads back).
    pub fn id(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::FashionMnist => "fashion-mnist",
        }
    }

    /// The names of the ten classes, label 0 first.
    pub fn class_names(self) -> [&'static str; CLASSES] {
        match self {
            Dataset::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Dataset::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// The class names shortened to fit a narrow column (a confusion
    /// matrix's, a caption under a 28-pixel picture): "T-shirt", "Boot".
    pub fn short_class_names(self) -> [&'static str; CLASSES] {
        let mut names = self.class_names();
        if self == Dataset::FashionMnist {
            names[0] = "T-shirt";
            names[9] = "Boot";
        }
        names
    }

    /// What one class is, in a caption: "digit" for MNIST, "class" where
    /// the classes are not digits.
    pub fn class_noun(self) -> &'static str {
        match self {
            Dataset::Mnist => "digit",
            Dataset::FashionMnist => "class",
        }
    }

    /// What one image is, in a caption: "digit" for MNIST, "picture" for
    /// Fashion-MNIST.
    pub fn image_noun(self) -> &'static str {
        match self {
            Dataset::Mnist => "digit",
            Dataset::FashionMnist => "picture",
        }
    }

    /// The environment variable naming a directory with its four IDX files.
    pub fn dir_env(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST_DIR",
            Dataset::FashionMnist => "FASHION_MNIST_DIR",
        }
    }

    /// The folders [`super::local_dir_of`] looks in after the environment
    /// variable, in order: `data/<id>/` of the working directory, then of
    /// this crate; for Fashion-MNIST then Debian's package's folder.
    pub fn local_dirs(self) -> Vec<PathBuf> {
        let folder = format!("data/{}", self.id());
        let mut dirs = vec![
            PathBuf::from(&folder),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&folder),
        ];
        if self == Dataset::FashionMnist {
            dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST_DIR));
        }
        dirs
    }

    /// Where the Hugging Face Hub keeps it.
    pub fn hub(self) -> HubLayout {
        match self {
            Dataset::Mnist => HubLayout {
                repo: "ylecun/mnist",
                revision: "refs/convert/parquet",
                train_file: "mnist/train/0000.parquet",
                test_file: "mnist/test/0000.parquet",
                resolve_url:
                    "https://huggingface.co/datasets/ylecun/mnist/resolve/refs%2Fconvert%2Fparquet",
            },
            Dataset::FashionMnist => HubLayout {
                repo: "zalando-datasets/fashion_mnist",
                revision: "refs/convert/parquet",
                train_file: "fashion_mnist/train/0000.parquet",
                test_file: "fashion_mnist/test/0000.parquet",
                resolve_url: "https://huggingface.co/datasets/zalando-datasets/fashion_mnist/\
                              resolve/refs%2Fconvert%2Fparquet",
            },
        }
    }
}

/// How many of a split's first labels [`Dataset::recognise`] compares.
const FINGERPRINT: usize = 16;

impl Dataset {
    /// The first labels of each split, `(training, test)`, in the files'
    /// (and the Hub's) order: what tells the data sets apart.
    fn first_labels(self) -> ([u8; FINGERPRINT], [u8; FINGERPRINT]) {
        match self {
            Dataset::Mnist => (
                [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7],
                [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5],
            ),
            Dataset::FashionMnist => (
                [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9],
                [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1],
            ),
        }
    }

    /// Which data set labels like these come from, where they tell: a
    /// split whose first labels (at least 8 of them, at most 16) are one
    /// set's first labels names that set. Data of one's own, or shuffled,
    /// is recognised as neither (`None`) and taken on its word; the first
    /// images of either set (a subset) are recognised.
    ///
    /// ```
    /// use filters_are_weights::data::Dataset;
    /// let mnist_test = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6];
    /// assert_eq!(Dataset::recognise(&[], &mnist_test), Some(Dataset::Mnist));
    /// assert_eq!(Dataset::recognise(&[1, 2, 3, 4, 5, 6, 7, 8], &[]), None);
    /// ```
    pub fn recognise(train_labels: &[u8], test_labels: &[u8]) -> Option<Dataset> {
        let starts = |labels: &[u8], first: &[u8]| {
            let n = labels.len().min(FINGERPRINT);
            n >= 8 && labels[..n] == first[..n]
        };
        Dataset::ALL.into_iter().find(|d| {
            let (train, test) = d.first_labels();
            starts(train_labels, &train) || starts(test_labels, &test)
        })
    }
}

/// Where Debian's `dataset-fashion-mnist` package puts the four IDX files.
pub const DEBIAN_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

impl std::fmt::Display for Dataset {
    /// Its name: "MNIST", "Fashion-MNIST".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dataset {
    type Err = Error;

    /// "mnist" or "fashion-mnist" (any case; "fashion_mnist" too).
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Dataset::ALL
            .into_iter()
            .find(|d| d.id() == wanted)
            .ok_or_else(|| {
                Error::BadArgument(format!(
                    "unknown data set '{s}': use mnist or fashion-mnist"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_set_reads_back_from_its_id() {
        for d in Dataset::ALL {
            assert_eq!(d.id().parse::<Dataset>().unwrap(), d);
            assert_eq!(d.name().parse::<Dataset>().unwrap(), d);
        }
        assert_eq!(
            "Fashion_MNIST".parse::<Dataset>().unwrap(),
            Dataset::FashionMnist
        );
        let msg = "kmnist".parse::<Dataset>().unwrap_err().to_string();
        assert!(msg.contains("fashion-mnist"), "{msg}");
    }

    #[test]
    fn the_hub_layouts_differ_only_in_the_dataset() {
        for d in Dataset::ALL {
            let hub = d.hub();
            assert!(hub.resolve_url.contains(hub.repo), "{hub:?}");
            assert!(hub.resolve_url.ends_with("refs%2Fconvert%2Fparquet"));
            assert_eq!(hub.train_file.replace("train", "test"), hub.test_file);
        }
        let json = serde_json::to_string(&Dataset::FashionMnist).unwrap();
        assert_eq!(json, "\"fashion-mnist\"");
    }
}
