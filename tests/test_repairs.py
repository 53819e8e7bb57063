"""Cross-arm repair collection end to end: real SmolLM2, the real sandbox, the real log."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.evaluation.fixrate import fix_rates_from_store
from octoroute.exceptions import ConfigError
from octoroute.repairs import RepairConfig, collect_repairs
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import Attempt, Completion

SMOLLM = "smollm2-135m"
WRONG = "def truncate_number(number: float) -> float:\n    return -1.0\n"


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="per_cell"):
        RepairConfig(per_cell=0)


def test_smollm2_repairs_a_logged_failure_once(tmp_path: Path) -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    pool = load_pool("default").select([SMOLLM])
    cfg = RepairConfig(per_cell=1, seed=0, max_tokens=48)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (problem,) = prepare(load_benchmark("humaneval")[2:3], ex, tmp_path / "cache")
        assert problem.visible_tests  # the failure shows a visible example in the prompt
        # The source run: one failed fresh attempt, judged on every test.
        store.add_run("collect/humaneval", config={"kind": "collect"})
        spec = pool.spec(SMOLLM)
        store.add_arm(SMOLLM, backend=spec.backend, model=spec.model, cost_unit="flops")
        store.add_problems([problem])
        completion = Completion(arm=SMOLLM, model=spec.model, text=WRONG, code=WRONG)
        failed = Attempt.from_parts("collect/humaneval", problem, completion,
                                    ex.check(problem, WRONG))  # fmt: skip
        assert failed.passed is False and store.record_attempt(failed)
        parent = next(iter(store.attempts("collect/humaneval")))

        first = collect_repairs(store, ex, pool, [problem], "collect/humaneval", "repair/he", cfg)
        assert (first.recorded, first.skipped, first.sampled) == (1, 0, {SMOLLM: 1})
        assert first.by_kind == {"wrong_answer": 1}
        (repair,) = store.attempts("repair/he")
        assert repair.attempt_number == 2 and repair.parent_attempt_id == parent.id
        assert repair.sample_index == parent.id and repair.arm == SMOLLM
        assert repair.error is not None or (repair.judged and repair.pass_base is not None)
        assert repair.sampling["max_tokens"] == 48

        again = collect_repairs(store, ex, pool, [problem], "collect/humaneval", "repair/he", cfg)
        assert (again.recorded, again.skipped, again.planned) == (0, 1, 0)
        assert store.count_attempts("repair/he") == 1

        result = fix_rates_from_store(store, "repair/he")
    cell = result.cell(SMOLLM, SMOLLM)
    assert cell is not None and cell.n + cell.arm_errors == 1
    assert (cell.fresh_n, cell.fresh_passed) == (1, 0)  # its own fresh attempt failed
