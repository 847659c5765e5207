"""Shared fixtures: an isolated result cache, MNIST, and one small experiment reused by many tests."""

from __future__ import annotations

import os

import pytest

from subliminal.config import Config


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session memoises into its own folder (never the user's cache)."""
    folder = tmp_path_factory.mktemp("subliminal-cache")
    old = os.environ.get("SUBLIMINAL_CACHE")
    os.environ["SUBLIMINAL_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SUBLIMINAL_CACHE", None)
    else:
        os.environ["SUBLIMINAL_CACHE"] = old


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
