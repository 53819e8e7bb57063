"""Fixtures the command tests share with the packages they wire (endpoints, benchmark files)."""

from tests.arms.conftest import fake_endpoint, refused_url
from tests.evaluation.conftest import benchmarks_dir

__all__ = ["benchmarks_dir", "fake_endpoint", "refused_url"]
