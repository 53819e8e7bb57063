"""Cross-arm repair collection end to end: real SmolLM2, the real sandbox, the real log."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.collection.repairs import RepairConfig, collect_repairs
from octoroute.episodes.fixrate import fix_rates_from_store
from octoroute.exceptions import ConfigError
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
        problem, parent = _logged_failure(store, ex, pool, tmp_path)
        assert problem.visible_tests  # the failure shows a visible example in the prompt
        assert parent.passed is False

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


def _logged_failure(store, ex, pool, tmp_path: Path):  # type: ignore[no-untyped-def]
    (problem,) = prepare(load_benchmark("humaneval")[2:3], ex, tmp_path / "cache")
    store.add_run("collect/humaneval", config={"kind": "collect"})
    spec = pool.spec(SMOLLM)
    store.add_arm(SMOLLM, backend=spec.backend, model=spec.model, cost_unit="flops")
    store.add_problems([problem])
    completion = Completion(arm=SMOLLM, model=spec.model, text=WRONG, code=WRONG)
    failed = Attempt.from_parts("collect/humaneval", problem, completion,
                                ex.check(problem, WRONG))  # fmt: skip
    store.record_attempt(failed)
    return problem, next(iter(store.attempts("collect/humaneval")))


def test_grow_makes_missing_tree_nodes_once(tmp_path: Path) -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    from octoroute.collection.repairs import grow
    from octoroute.episodes.tree import NodeRequest

    pool = load_pool("default").select([SMOLLM])
    cfg = RepairConfig(max_tokens=32)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problem, parent = _logged_failure(store, ex, pool, tmp_path)
        repair = NodeRequest("humaneval", problem.id, SMOLLM, parent.id)
        sample = NodeRequest("humaneval", problem.id, SMOLLM, None, 1)
        first = grow(store, ex, pool, [problem], [repair, sample, repair], "grow/he", cfg)
        assert (first.requested, first.recorded, first.skipped) == (2, 2, 0)
        nodes = {a.parent_attempt_id: a for a in store.attempts("grow/he")}
        made = nodes[parent.id]
        assert (made.attempt_number, made.sample_index) == (2, parent.id)
        fresh = nodes[None]
        assert (fresh.attempt_number, fresh.sample_index) == (1, 1)
        assert fresh.sampling["temperature"] == 0.8 and fresh.seed == 1
        # A repair of the repair is one level deeper; what is there is skipped.
        deeper = NodeRequest("humaneval", problem.id, SMOLLM, made.id)
        again = grow(store, ex, pool, [problem], [repair, sample, deeper], "grow/he", cfg)
        assert (again.recorded, again.skipped) == (1, 2)
        (third,) = [a for a in store.attempts("grow/he") if a.parent_attempt_id == made.id]
        assert third.attempt_number == 3
        with pytest.raises(ConfigError, match="not in the pool"):
            grow(store, ex, pool, [problem],
                 [NodeRequest("humaneval", problem.id, "nope", None, 0)], "grow/he", cfg)  # fmt: skip
        with pytest.raises(ConfigError, match="parent attempt 999"):
            grow(store, ex, pool, [problem],
                 [NodeRequest("humaneval", problem.id, SMOLLM, 999)], "grow/he", cfg)  # fmt: skip
