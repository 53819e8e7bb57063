"""A candidate's consistency with the claims its request's examples make, in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from octoroute.clarify.consistency import (
    claims_problem,
    consistency,
    consistency_features,
    direct_consistency,
)
from octoroute.sandbox import Executor
from octoroute.tasks import load_benchmark
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.types import Attempt, Problem


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(workers=1) as ex:
        yield ex


def test_a_reference_meets_its_own_requests_claims(executor: Executor) -> None:
    """HumanEval's references meet what their prompts claim, but where the docstring is known
    to be wrong (HumanEval/47's median of [-10, 4, 6, 1000, 10, 20] is 8.0, not 15.0)."""
    problems = {p.id: p for p in load_benchmark("humaneval")}
    met = {pid: consistency(executor, problems[pid], problems[pid].reference)
           for pid in ("HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/47")}  # fmt: skip
    assert met["HumanEval/0"] == met["HumanEval/2"] == 1.0
    assert met["HumanEval/47"] is not None and met["HumanEval/47"] < 1.0
    claimed = claims_problem(problems["HumanEval/0"])
    assert claimed is not None and all(t.has_expected for t in claimed.tests)
    assert claims_problem(Problem("x", "t", "def f(x):\n    pass\n", "f", "", ())) is None


def test_an_inconsistent_request_is_met_less_often(executor: Executor, shared_data: Path) -> None:
    """On HumanEvalComm's inconsistent rewrites (1c: the examples contradict the text), the
    original's reference meets fewer of the request's claims than on the originals."""
    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    chosen = [p for p in loaded if int(p.id.split("/")[1]) < 30
              and p.id.rsplit("/", 1)[-1] in ("original", "1c")]  # fmt: skip
    attempts = [Attempt("direct", p.benchmark, p.id, "ref", code=p.reference) for p in chosen]
    met = direct_consistency(executor, attempts, chosen, "ref", "direct")

    def mean(variant: str) -> float:
        values = [v for pid, v in met.items() if pid.endswith(variant) and v is not None]
        return sum(values) / len(values)

    assert mean("/original") > mean("/1c") + 0.2
    assert consistency_features([None, 0.25]).tolist() == [[0.5, 0.0], [0.25, 1.0]]
