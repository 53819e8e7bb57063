"""Where arms may run, and Ray kept out of every run that does not ask for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from octoroute.arms.pool import ArmSpec, Pool
from octoroute.exceptions import ConfigError
from octoroute.scale import RayRunner, model_resource, node_resources
from tests.arms.conftest import refused_url  # noqa: F401


def test_a_node_offers_the_models_whose_files_it_holds(tmp_path: Path) -> None:
    here = tmp_path / "tiny-q4.gguf"
    here.write_bytes(b"GGUF")
    pool = Pool((
        ArmSpec("a", "llamacpp", "m", path=here),
        ArmSpec("a-completion", "llamacpp", "m", path=here),  # same file: one resource
        ArmSpec("b", "llamacpp", "m", path=tmp_path / "absent.gguf"),
        ArmSpec("c", "openai", "m", endpoint="http://127.0.0.1:8000/v1"),
    ))  # fmt: skip
    assert node_resources(pool) == {"model:tiny-q4": 1.0}
    assert model_resource(pool.spec("b")) == "model:absent"
    assert model_resource(pool.spec("c")) is None


def test_without_the_extra_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    pool = Pool((ArmSpec("c", "openai", "m", endpoint="http://127.0.0.1:8000/v1"),))
    with pytest.raises(ConfigError, match=r"pip install 'octoroute\[ray\]'"):
        RayRunner().connect(pool)


def test_a_run_without_ray_never_imports_it(tmp_path: Path, refused_url: str) -> None:  # noqa: F811
    pool = tmp_path / "pool.toml"
    pool.write_text(f'[[arms]]\nname = "dead"\nbackend = "openai"\nmodel = "m"\n'
                    f'endpoint = "{refused_url}"\nretries = 1\nbackoff = 0.01\n')  # fmt: skip
    code = (
        "import sys\n"
        "from octoroute.cli.app import main\n"
        "try:\n"
        f"    main(['collect', '--pool', {str(pool)!r}, '--benchmark', 'humaneval',\n"
        f"          '--limit', '1', '--db', {str(tmp_path / 'log.db')!r}, '--workers', '1'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('ray imported' if 'ray' in sys.modules else 'ray never imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert "1 attempts logged (1 arm errors)" in out.stdout, out.stderr
    assert out.stdout.strip().endswith("ray never imported")
