//! MNIST as tensors: where it comes from, and how it is cut into mini-batches.
//!
//! Images are kept as they are stored, `[N, 1, 28, 28]` u8 (a byte a pixel:
//! MNIST's 70,000 images take 55 MB, a quarter of what f32 would), labels
//! `[N]` u8. Each mini-batch becomes f32 in `0..1` as it is drawn ([`to_unit`]:
//! the bytes scaled by 1/255, as in Keras' example), so the model sees the
//! same numbers as if the whole set had been converted up front. Two data
//! sets in the same format (see [`Dataset`]): MNIST's digits, the post's, and
//! Fashion-MNIST's clothes.
//! Three sources:
//!
//! 1. a directory of the four IDX files ([`Mnist::from_dir`],
//!    [`Mnist::from_dir_of`]), gzipped or not;
//! 2. the Hugging Face Hub ([`Mnist::from_hub`], feature `hub`), cached by
//!    hf-hub so that later and offline runs need no network;
//! 3. [`Mnist::load`] ([`Mnist::load_dataset`] for another data set): the
//!    directory named by `$MNIST_DIR` (`$FASHION_MNIST_DIR`), else
//!    `data/mnist/` (`data/fashion-mnist/`, then Debian's
//!    `/usr/share/datasets/fashion-mnist`) when it holds the files, else the
//!    Hub.
//!
//! ```no_run
//! use filters_are_weights::data::{Dataset, Mnist};
//! let mnist = Mnist::load()?.subset(1000, 200)?;
//! assert_eq!(mnist.train_images.dims(), &[1000, 1, 28, 28]);
//! let fashion = Mnist::load_dataset(Dataset::FashionMnist)?;
//! assert_eq!(fashion.dataset.class_names()[0], "T-shirt/top");
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

mod batches;
mod dataset;
#[cfg(feature = "hub")]
pub mod hub;
pub mod idx;
pub use batches::Batches;
pub use dataset::{Dataset, HubLayout, DEBIAN_FASHION_MNIST_DIR};
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "parquet")]
pub mod thrift;

use crate::error::{Error, Result};
use crate::rng::Rng;
use candle_core::{DType, Device, Tensor};
use idx::IdxImages;
use std::path::{Path, PathBuf};

/// Environment variable naming a directory with the four MNIST IDX files
/// (see [`Dataset::dir_env`] for the other data set's).
pub const MNIST_DIR_ENV: &str = "MNIST_DIR";

/// Side of an MNIST image, in pixels.
pub const IMAGE_SIDE: usize = 28;

/// Number of classes (the digits 0 to 9; Fashion-MNIST's ten kinds of article).
pub const CLASSES: usize = 10;

/// The base names of the four IDX files, in the order train images, train
/// labels, test images, test labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The training and test sets of an MNIST-format data set ([`Dataset`]), as
/// tensors on one device.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// Training images, `[60000, 1, 28, 28]` u8, the pixels as stored
    /// ([`to_unit`] turns them into the model's f32 in `0..1`).
    pub train_images: Tensor,
    /// Training labels, `[60000]` u8.
    pub train_labels: Tensor,
    /// Test images, `[10000, 1, 28, 28]` u8, as the training images.
    pub test_images: Tensor,
    /// Test labels, `[10000]` u8.
    pub test_labels: Tensor,
    /// Where the data came from, for display: "IDX files in DIR", "Hugging
    /// Face Hub ylecun/mnist (refs/convert/parquet)".
    pub source: String,
    /// The kind of source alone, naming no machine's path: "IDX files",
    /// "Hugging Face Hub ylecun/mnist" (what a committed notebook prints).
    pub kind: String,
    /// Which data set it is: what its classes are called.
    pub dataset: Dataset,
}

impl std::fmt::Display for Mnist {
    /// "MNIST from IDX files in data/mnist: 60000 training and 10000 test images".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (train, test) = (self.train_len(), self.test_len());
        write!(
            f,
            "{} from {}: {train} training and {test} test images",
            self.dataset, self.source
        )
    }
}

/// Finds `base` in `dir` under the names MNIST mirrors use: with `-` or `.`
/// before `idx`, gzipped or not.
fn find_idx_file(dir: &Path, base: &str) -> Option<PathBuf> {
    let dotted = base.replacen("-idx", ".idx", 1);
    [base, dotted.as_str()]
        .iter()
        .flat_map(|name| [format!("{name}.gz"), name.to_string()])
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `dir` holds all four IDX files.
pub fn has_idx_files(dir: &Path) -> bool {
    IDX_FILES.iter().all(|b| find_idx_file(dir, b).is_some())
}

/// The local MNIST directory [`Mnist::load`] would use, if any: `$MNIST_DIR`
/// when set, else `data/mnist/` (of the working directory, then of this crate)
/// when it holds the four files.
pub fn local_dir() -> Option<PathBuf> {
    local_dir_of(Dataset::Mnist)
}

/// The local directory [`Mnist::load_dataset`] would use for `dataset`, if
/// any: its variable ([`Dataset::dir_env`]) when set and not empty, else the
/// first of [`Dataset::local_dirs`] that holds the four files.
pub fn local_dir_of(dataset: Dataset) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(dataset.dir_env()).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dataset.local_dirs().into_iter().find(|d| has_idx_files(d))
}

/// Pixels as the model takes them: bytes (u8, `0..=255`) become f32 in
/// `0..1`, each byte times `1 / 255` in f32 (candle's `/ 255.0`, which
/// multiplies by the reciprocal; Keras' example divides, `x_train /= 255`,
/// and the two differ in the last bit for 126 of the 256 byte values);
/// images that are f32 already are returned as they are. The data sets keep
/// their images as bytes and [`Batches`] calls this on each batch; a batch
/// scaled here is bit for bit the same as the same images cut from a set
/// scaled whole.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let bytes = Tensor::new(&[0u8, 51, 255], &Device::Cpu)?;
/// let unit = filters_are_weights::data::to_unit(&bytes)?.to_vec1::<f32>()?;
/// assert_eq!(unit, [0.0, 51.0 * (1.0 / 255.0f32), 1.0]);
/// # Ok::<(), filters_are_weights::Error>(())
/// ```
pub fn to_unit(images: &Tensor) -> Result<Tensor> {
    Ok(match images.dtype() {
        DType::U8 => (images.to_dtype(DType::F32)? / 255.0)?,
        DType::F32 => images.clone(),
        _ => images.to_dtype(DType::F32)?,
    })
}

/// Checks one split and turns it into tensors, taking its bytes (no copy).
fn split_tensors(
    images: IdxImages,
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    if (images.rows, images.cols) != (IMAGE_SIDE, IMAGE_SIDE) {
        return Err(Error::bad_data(
            images_path,
            format!(
                "images are {}x{}, but MNIST-format images must be 28x28",
                images.rows, images.cols
            ),
        ));
    }
    if images.count != labels.len() {
        return Err(Error::bad_data(
            labels_path,
            format!(
                "{} labels, but {} holds {} images: the two files do not belong together",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    if let Some(i) = labels.iter().position(|&l| l as usize >= CLASSES) {
        return Err(Error::bad_data(
            labels_path,
            format!("label {} at index {i} is out of range 0..9", labels[i]),
        ));
    }
    // [N, 1, 28, 28] u8: the bytes move into the tensor.
    let shape = (images.count, 1, images.rows, images.cols);
    let x = Tensor::from_vec(images.pixels, shape, device)?;
    let n = labels.len();
    let y = Tensor::from_vec(labels, n, device)?;
    Ok((x, y))
}

impl Mnist {
    /// Reads MNIST's four IDX files from `dir` (named as in [`IDX_FILES`],
    /// with `-` or `.` before `idx`, optionally gzipped).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::from_dir_of(Dataset::Mnist, dir)
    }

    /// [`Mnist::from_dir`] for `dataset`: the IDX files in `dir` are taken to
    /// be its (the files themselves do not say).
    pub fn from_dir_of(dataset: Dataset, dir: impl AsRef<Path>) -> Result<Self> {
        Self::from_dir_on(dataset, dir, &Device::Cpu)
    }

    /// [`Mnist::from_dir_of`], with the tensors on `device`.
    pub fn from_dir_on(dataset: Dataset, dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let name = dataset.name();
        if !dir.is_dir() {
            return Err(Error::DatasetUnavailable(format!(
                "the {name} directory {} does not exist; point {} \
                 at a directory holding the four IDX files {}",
                dir.display(),
                dataset.dir_env(),
                IDX_FILES.join(", ")
            )));
        }
        let mut paths = Vec::new();
        for base in IDX_FILES {
            paths.push(find_idx_file(dir, base).ok_or_else(|| {
                Error::DatasetUnavailable(format!(
                    "{} has no {base} (nor {base}.gz); an {name} directory needs the four \
                     IDX files {}",
                    dir.display(),
                    IDX_FILES.join(", ")
                ))
            })?);
        }
        let train = (idx::read_images(&paths[0])?, idx::read_labels(&paths[1])?);
        let test = (idx::read_images(&paths[2])?, idx::read_labels(&paths[3])?);
        let [a, b, c, d] = [&paths[0], &paths[1], &paths[2], &paths[3]].map(PathBuf::as_path);
        let source = (
            format!("IDX files in {}", dir.display()),
            "IDX files".to_string(),
        );
        Self::checked(dataset, train, test, [a, b, c, d], source, device)
    }

    /// `dataset` from decoded files: training and test images with their
    /// labels, checked as [`Mnist::from_dir`] checks them (28×28 images, as
    /// many labels as images, labels 0..9). `names` name the four sources
    /// in errors (as in [`IDX_FILES`]); `source` says where the data came
    /// from. A page that fetched the files itself builds its data this way.
    /// The bytes move into the tensors, uncopied.
    pub fn from_parts(
        dataset: Dataset,
        train: (IdxImages, Vec<u8>),
        test: (IdxImages, Vec<u8>),
        names: [&str; 4],
        source: impl Into<String>,
    ) -> Result<Self> {
        let source: String = source.into();
        let kind = source.clone();
        Self::checked(
            dataset,
            train,
            test,
            names.map(Path::new),
            (source, kind),
            &Device::Cpu,
        )
    }

    /// The one constructor: each split checked (28×28 images, as many
    /// labels as images, labels 0..9; `paths` name the images and labels
    /// files of each split in errors) and turned into tensors on `device`.
    fn checked(
        dataset: Dataset,
        (train_images, train_labels): (IdxImages, Vec<u8>),
        (test_images, test_labels): (IdxImages, Vec<u8>),
        paths: [&Path; 4],
        (source, kind): (String, String),
        device: &Device,
    ) -> Result<Self> {
        if let Some(found) = Dataset::recognise(&train_labels, &test_labels) {
            if found != dataset {
                return Err(Error::WrongDataset {
                    from: source,
                    asked: dataset,
                    found,
                });
            }
        }
        let (train_x, train_y) =
            split_tensors(train_images, train_labels, paths[0], paths[1], device)?;
        let (test_x, test_y) = split_tensors(test_images, test_labels, paths[2], paths[3], device)?;
        Ok(Self {
            train_images: train_x,
            train_labels: train_y,
            test_images: test_x,
            test_labels: test_y,
            source,
            kind,
            dataset,
        })
    }

    /// Reads the data set of `options` (MNIST by default) from the Hugging
    /// Face Hub's cache, downloading it first if needed and allowed (see
    /// [`hub`]).
    #[cfg(feature = "hub")]
    pub fn from_hub(options: &hub::HubOptions) -> Result<Self> {
        let (train_path, test_path) = hub::fetch(options)?;
        let train = hub::read_parquet(&train_path)?;
        let test = hub::read_parquet(&test_path)?;
        let (tr, te) = (train_path.as_path(), test_path.as_path());
        let layout = options.dataset.hub();
        let source = (
            format!("Hugging Face Hub {} ({})", layout.repo, layout.revision),
            format!("Hugging Face Hub {}", layout.repo),
        );
        let paths = [tr, tr, te, te];
        Self::checked(options.dataset, train, test, paths, source, &Device::Cpu)
    }

    /// `dataset` from the IDX files in `dir` where one is given (a command
    /// line's `--data-dir`), else from wherever [`Mnist::load_dataset`]
    /// finds it.
    pub fn from_dir_or_load(dataset: Dataset, dir: Option<&Path>) -> Result<Self> {
        match dir {
            Some(dir) => Self::from_dir_of(dataset, dir),
            None => Self::load_dataset(dataset),
        }
    }

    /// MNIST from wherever it is: `$MNIST_DIR`, else `data/mnist/`, else the
    /// Hugging Face Hub (through its cache).
    pub fn load() -> Result<Self> {
        Self::load_dataset(Dataset::Mnist)
    }

    /// `dataset` from wherever it is: its directory variable, else its local
    /// folders ([`local_dir_of`]), else the Hugging Face Hub (through its
    /// cache).
    pub fn load_dataset(dataset: Dataset) -> Result<Self> {
        match local_dir_of(dataset) {
            Some(dir) => Self::from_dir_of(dataset, dir),
            None => Self::load_remote(dataset),
        }
    }

    #[cfg(feature = "hub")]
    fn load_remote(dataset: Dataset) -> Result<Self> {
        Self::from_hub(&hub::HubOptions {
            progress: true,
            dataset,
            ..hub::HubOptions::from_env()
        })
    }

    #[cfg(not(feature = "hub"))]
    fn load_remote(dataset: Dataset) -> Result<Self> {
        Err(Error::DatasetUnavailable(format!(
            "no local {} found (set {} to a directory with the four IDX \
             files {}), and this build has no `hub` feature to download it",
            dataset.name(),
            dataset.dir_env(),
            IDX_FILES.join(", ")
        )))
    }

    /// The first `train` training and `test` test examples (all of them when
    /// a count exceeds the set): a quick run's data.
    pub fn subset(&self, train: usize, test: usize) -> Result<Self> {
        let take =
            |t: &Tensor, n: usize| -> Result<Tensor> { Ok(t.narrow(0, 0, n.min(t.dim(0)?))?) };
        Ok(Self {
            train_images: take(&self.train_images, train)?,
            train_labels: take(&self.train_labels, train)?,
            test_images: take(&self.test_images, test)?,
            test_labels: take(&self.test_labels, test)?,
            source: self.source.clone(),
            kind: self.kind.clone(),
            dataset: self.dataset,
        })
    }

    /// Number of training examples.
    pub fn train_len(&self) -> usize {
        self.train_labels.dims1().unwrap_or(0)
    }

    /// Number of test examples.
    pub fn test_len(&self) -> usize {
        self.test_labels.dims1().unwrap_or(0)
    }

    /// How many training examples each class (label 0..9) has.
    pub fn class_counts(&self) -> Result<[usize; CLASSES]> {
        let mut counts = [0; CLASSES];
        for l in self.train_labels.to_vec1::<u8>()? {
            counts[l as usize] += 1;
        }
        Ok(counts)
    }

    /// The training set in shuffled mini-batches of `batch_size` (the last one
    /// may be smaller), in an order fixed by `rng`.
    pub fn train_batches(&self, batch_size: usize, rng: &mut Rng) -> Result<Batches> {
        Batches::new(
            &self.train_images,
            &self.train_labels,
            batch_size,
            Some(rng),
        )
    }

    /// The test set in order, in batches of `batch_size`.
    pub fn test_batches(&self, batch_size: usize) -> Result<Batches> {
        Batches::new(&self.test_images, &self.test_labels, batch_size, None)
    }
}

/// The pixels of `images` (bytes, or f32 in `0..1`) as bytes, flat: the
/// stored bytes as they are, f32 scaled back by 255 and rounded.
pub(crate) fn to_bytes(images: &Tensor) -> Result<Vec<u8>> {
    let flat = images.flatten_all()?;
    Ok(match flat.dtype() {
        DType::U8 => flat.to_vec1()?,
        _ => (to_unit(&flat)? * 255.0)?
            .round()?
            .clamp(0.0, 255.0)?
            .to_dtype(DType::U8)?
            .to_vec1()?,
    })
}

/// Image `i` of `images` `[N, 1, h, w]` (bytes, or f32 in `0..1`) as an
/// 8-bit grayscale picture.
pub fn digit_picture(images: &Tensor, i: usize) -> Result<image::GrayImage> {
    let (_, _, h, w) = images.dims4()?;
    image::GrayImage::from_raw(w as u32, h as u32, to_bytes(&images.get(i)?)?)
        .ok_or_else(|| Error::BadArgument("image size mismatch".into()))
}
