"""The data sets the package reads: their names, shapes and where their files live.

`DATASETS` maps each name to its `DatasetSpec`; `DATASET_NAMES` is the names
alone, which the training options import.
"""

import dataclasses

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What is known of a data set.

    Attributes:
        name: the name users pass, also tensorflow-datasets' name.
        classes: number of classes.
        image_shape: `(height, width, channels)`.
        tfds_url: the first file tensorflow-datasets downloads for it.
        download_url: the file to fetch by hand for offline use.
        binary_dir: folder inside the binary archive (CIFAR).
        python_dir: folder inside the python archive (CIFAR).
        keras_dirs: where `keras.datasets.<name>.load_data()` keeps it,
            under Keras' dataset cache (Keras 3's layout, then Keras 2's).
        system_dirs: places searched after Keras' cache when no folder is
            given.
    """

    name: str
    classes: int
    image_shape: tuple
    tfds_url: str
    download_url: str
    binary_dir: str = ""
    python_dir: str = ""
    keras_dirs: tuple = ()
    system_dirs: tuple = ()


DATASETS = {
    "cifar10": DatasetSpec(
        "cifar10", 10, (32, 32, 3),
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        binary_dir="cifar-10-batches-bin", python_dir="cifar-10-batches-py",
        keras_dirs=("cifar-10-batches-py-target/cifar-10-batches-py",
                    "cifar-10-batches-py"),
    ),
    "cifar100": DatasetSpec(
        "cifar100", 100, (32, 32, 3),
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        binary_dir="cifar-100-binary", python_dir="cifar-100-python",
        keras_dirs=("cifar-100-python-target/cifar-100-python", "cifar-100-python"),
    ),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", 10, (28, 28, 1),
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
        "train-images-idx3-ubyte.gz",
        "https://github.com/zalandoresearch/fashion-mnist (data/fashion/*.gz), "
        "or `apt-get install dataset-fashion-mnist`",
        keras_dirs=("fashion-mnist",),
        system_dirs=(DEBIAN_FASHION_MNIST,),
    ),
}
"""The data sets `load_splits` knows, by name: classes, image shape and
where each source (tfds, the download, local copies) finds them."""

#: The data set names, in the order the commands list them.
DATASET_NAMES = tuple(DATASETS)


class DataSourceError(ValueError):
    """No usable source, or a corrupt one. The message says what to do."""


class MissingDataDirError(DataSourceError):
    """The `data_dir` given does not exist.

    Attributes:
        data_dir: the path given.
    """

    def __init__(self, data_dir):
        self.data_dir = data_dir
        super().__init__(f"data_dir={data_dir!r} does not exist.")

    def for_command_line(self):
        """The message as the commands show it: `--data-dir PATH: does not exist`."""
        return f"--data-dir {self.data_dir}: does not exist"


def get_spec(name):
    """The `DatasetSpec` of `name`.

    Args:
        name: `"cifar10"`, `"cifar100"` or `"fashion_mnist"`.

    Returns:
        A `DatasetSpec`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset={name!r}. Known: {', '.join(sorted(DATASETS))}"
        )
    return DATASETS[name]
