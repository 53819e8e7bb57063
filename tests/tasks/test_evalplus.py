"""HumanEval+ and MBPP+: tiers, input deserialization and EvalPlus's special cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.tasks.evalplus import (
    MBPP_NOT_NONE_TASKS,
    MBPP_ORACLE_TASKS,
    MBPP_SET_TASKS,
    load_mbpp_plus,
    mbpp_deserialize,
)
from octoroute.types import Compare, Problem, Tier, Transform
from octoroute.types import TestKind as Kind


def test_counts(humaneval_plus: dict[str, Problem], mbpp_plus: dict[str, Problem]) -> None:
    assert len(humaneval_plus) == 164
    assert len(mbpp_plus) == 378
    assert {p.benchmark for p in humaneval_plus.values()} == {"humaneval+"}
    assert {p.benchmark for p in mbpp_plus.values()} == {"mbpp+"}


def test_tiers_of_humaneval_plus(humaneval_plus: dict[str, Problem]) -> None:
    p = humaneval_plus["HumanEval/0"]
    assert p.tiers == (Tier.VISIBLE, Tier.BASE, Tier.PLUS)
    assert len(p.visible_tests) == 2
    base = [t for t in p.tests if t.tier is Tier.BASE]
    assert len(base) == 7
    assert base[0].input == ([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3)
    assert all(t.kind is Kind.CALL and not t.has_expected for t in p.tests)
    assert p.reference.startswith(p.prompt)


def test_atol_and_root_finding(humaneval_plus: dict[str, Problem]) -> None:
    assert {t.atol for t in humaneval_plus["HumanEval/2"].tests} == {1e-6}
    find_zero = humaneval_plus["HumanEval/32"]
    assert {(t.compare, t.atol) for t in find_zero.tests} == {(Compare.POLY_ROOT, 1e-4)}
    assert {t.compare for t in humaneval_plus["HumanEval/0"].tests} == {Compare.EXACT}


def test_mbpp_plus_prompt_and_reference(mbpp_plus: dict[str, Problem]) -> None:
    p = mbpp_plus["Mbpp/2"]
    assert p.prompt.startswith('"""\n') and p.prompt.rstrip().endswith('"""')
    assert p.reference.lstrip().startswith("def similar_elements(")
    assert [t.input for t in p.visible_tests] == [((3, 4, 5, 6), (5, 7, 4, 10))]


def test_tuple_deserialization(mbpp_plus: dict[str, Problem]) -> None:
    # Mbpp/2 takes two tuples; JSON stored them as lists.
    base = [t.input for t in mbpp_plus["Mbpp/2"].tests if t.tier is Tier.BASE]
    assert base[0] == ((3, 4, 5, 6), (5, 7, 4, 10))
    assert all(isinstance(arg, tuple) for args in base for arg in args)
    # Mbpp/580 takes a nested tuple: every level is restored.
    nested = next(t.input for t in mbpp_plus["Mbpp/580"].tests if t.tier is Tier.BASE)
    assert nested == ((4, 5, (7, 6, (2, 4)), 6, 8),)
    # Mbpp/722 takes a dict of tuples; Mbpp/124 a float and a complex number.
    students = next(t.input for t in mbpp_plus["Mbpp/722"].tests if t.tier is Tier.BASE)
    assert students[0]["Cierra Vega"] == (6.2, 70)
    angle = next(t.input for t in mbpp_plus["Mbpp/124"].tests if t.tier is Tier.BASE)
    assert angle == (0.0, 1j)
    # A task without special handling keeps its lists.
    assert next(t.input for t in mbpp_plus["Mbpp/111"].tests if t.tier is Tier.BASE)[0][0] == [
        12,
        18,
        23,
        25,
        45,
    ]


@pytest.mark.parametrize(
    ("task_id", "args", "expected"),
    [
        ("Mbpp/63", [[[3, 5], [1, 7]]], ([(3, 5), (1, 7)],)),
        ("Mbpp/75", [[[6, 24], [7, 9]], 6], ([(6, 24), (7, 9)], 6)),
        ("Mbpp/106", [[5, 6], [9, 10]], ([5, 6], (9, 10))),
        ("Mbpp/115", [[[1, 2], []]], ([{1, 2}, {}],)),
        ("Mbpp/250", [[10, 8], 4], ((10, 8), 4)),
        ("Mbpp/252", ["1+2j"], ((1 + 2j),)),
        ("Mbpp/259", [[[1, 3], [4, 5]], [[6, 7]]], (((1, 3), (4, 5)), ((6, 7),))),
        ("Mbpp/278", [[1, 5, [4, 6], 10]], ((1, 5, (4, 6), 10),)),
        ("Mbpp/307", [["HELLO", 5, [], True], 2, 50], (("HELLO", 5, [], True), 2, 50)),
    ],
)
def test_mbpp_deserialize(task_id: str, args: list[object], expected: tuple[object, ...]) -> None:
    assert mbpp_deserialize(task_id, args) == expected


def test_set_not_none_and_oracle_tasks(mbpp_plus: dict[str, Problem]) -> None:
    for task_id, p in mbpp_plus.items():
        number = int(task_id.split("/")[1])
        compares = {t.compare for t in p.tests}
        transforms = {t.transform for t in p.tests}
        default = Compare.SET if number in MBPP_SET_TASKS else Compare.EXACT
        assert compares == {MBPP_ORACLE_TASKS.get(number, default)}
        assert transforms == {
            Transform.NOT_NONE if number in MBPP_NOT_NONE_TASKS else Transform.NONE
        }
    assert mbpp_plus["Mbpp/769"].entry_point == "Diff"
    assert mbpp_plus["Mbpp/737"].entry_point == "check_str"
    # EvalPlus keys its oracles by entry point; MBPP+ v0.2.0 dropped Mbpp/164 and Mbpp/295.
    assert mbpp_plus["Mbpp/558"].entry_point == "digit_distance_nums"
    assert mbpp_plus["Mbpp/581"].entry_point == "surface_Area"
    assert "Mbpp/164" not in mbpp_plus and "Mbpp/295" not in mbpp_plus


def test_empty_plus_input(mbpp_plus: dict[str, Problem]) -> None:
    # Mbpp/793 stores its (empty) plus_input as {}.
    assert Tier.PLUS not in mbpp_plus["Mbpp/793"].tiers


def test_data_dir_from_the_environment(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(shared_data))
    assert len(load_mbpp_plus()) == 378
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"MbppPlus\.jsonl\.gz.*OCTOROUTE_DATA_DIR"):
        load_mbpp_plus()


def test_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "MbppPlus.jsonl"
    path.write_text(
        '{"task_id": "Mbpp/3", "prompt": "", "entry_point": "f", "canonical_solution": "",'
        ' "atol": 0, "base_input": [[1]], "plus_input": [5]}\n'
    )
    with pytest.raises(DataError, match=r"line 1, field plus_input\[0\]: expected an array"):
        load_mbpp_plus(path)


def test_input_that_does_not_fit_the_conversion(tmp_path: Path) -> None:
    path = tmp_path / "MbppPlus.jsonl"
    path.write_text(
        '{"task_id": "Mbpp/2", "prompt": "", "entry_point": "f", "canonical_solution": "",'
        ' "atol": 0, "base_input": [[1, 2]], "plus_input": []}\n'
    )
    with pytest.raises(DataError, match=r"line 1, field base_input: input does not fit"):
        load_mbpp_plus(path)
