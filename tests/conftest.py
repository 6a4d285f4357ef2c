"""Shared fixtures. Real inputs come from ``../shared/corpus`` through the one ``corpus``
fixture, which skips cleanly when the folder is absent (a clone of the project alone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def corpus_root() -> Path | None:
    """``$KUBETRAIL_CORPUS`` or ``../shared/corpus`` next to the repository, if present."""
    env = os.environ.get("KUBETRAIL_CORPUS")
    path = Path(env) if env else ROOT.parent / "shared" / "corpus"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real policies and events (see its SOURCES.md files)."""
    path = corpus_root()
    if path is None:
        pytest.skip("../shared/corpus is not present")
    return path


@pytest.fixture(scope="session")
def spark() -> object:
    """One Spark application (local[2], the machine's Java) for the whole run: each
    SparkEngine works in a new session of it, so start-up is paid once per test worker."""
    from kubetrail.lake.spark import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()
