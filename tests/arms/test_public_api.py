"""The arms package's curated surface, and a cheap import."""

from __future__ import annotations

import subprocess
import sys

import octoroute.arms


def test_all_is_sorted_and_resolves() -> None:
    exported = list(octoroute.arms.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(octoroute.arms, name) for name in exported)


def test_import_loads_neither_httpx_nor_xllamacpp() -> None:
    code = (
        "import sys, octoroute.arms, octoroute.cli.arms; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'xllamacpp'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_arm_classes_satisfy_the_protocol() -> None:
    from octoroute.arms import Arm, LlamaCppArm, OpenAICompatArm

    assert isinstance(OpenAICompatArm("a", "m", "http://127.0.0.1:9/v1"), Arm)
    assert isinstance(LlamaCppArm("b", "/m.gguf"), Arm)
