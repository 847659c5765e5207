"""Shared fixtures: an isolated result cache, MNIST, and one small experiment reused by many tests."""

from __future__ import annotations

import os

import pytest

from subliminal.config import Config


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Tests memoise into their own folder, never the user's cache.

    ``make test`` sets ``SUBLIMINAL_CACHE`` to a folder of the checkout so that the
    unit tests, the papermill runs, nbval and the fast book build share results;
    run alone, pytest uses a fresh temporary folder.
    """
    if os.environ.get("SUBLIMINAL_CACHE"):
        yield os.environ["SUBLIMINAL_CACHE"]
        return
    folder = tmp_path_factory.mktemp("subliminal-cache")
    os.environ["SUBLIMINAL_CACHE"] = str(folder)
    yield folder
    os.environ.pop("SUBLIMINAL_CACHE", None)


@pytest.fixture(scope="session")
def mnist():
    from subliminal.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def small_config() -> Config:
    """A few-second configuration in which subliminal transfer still shows."""
    return Config.fast()


@pytest.fixture(scope="session")
def small_result(small_config):
    """Every condition for 3 seeds of the fast configuration (computed once per session)."""
    from subliminal.experiments import run_experiment

    return run_experiment(small_config, seeds=3, progress=False)
