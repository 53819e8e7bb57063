"""A pool of arms: a TOML file (or the built-in offline default), validated once.

::

    [[arms]]
    name = "gpt-4o-mini"                   # unique in the pool
    backend = "openai"                     # openai | llamacpp
    model = "gpt-4o-mini"                  # the name the endpoint must prove it serves
    endpoint = "https://api.openai.com/v1" # base URL with its /v1 (openai only)
    api_key_env = "OPENAI_API_KEY"         # where the key is read from (optional)
    style = "chat"                         # chat | completion
    concurrency = 8                        # requests in flight at once (optional)
    sampling = { temperature = 0.0, top_p = 1.0, max_tokens = 512, seed = 0, stop = [] }
    cost = { unit = "usd", usd_per_m_prompt = 0.15, usd_per_m_completion = 0.60 }

    [[arms]]
    name = "qwen-local"
    backend = "llamacpp"
    local_model = "qwen2.5-coder-0.5b"     # a default-pool model, or: path = "/models/x.gguf"
    n_ctx = 4096
    threads = 2
    cost = { unit = "flops" }              # 2 x parameters x tokens; parameters from the GGUF

Every error names the file, the field, what was expected and what was found. The default pool
(:func:`default_pool`) needs no file: the four models of :mod:`octoroute.arms.models`.

>>> pool = default_pool(["smollm2-135m"])
>>> pool.names, pool.specs[0].backend, pool.specs[0].cost_label
(('smollm2-135m',), 'llamacpp', '2 x parameters x tokens (flops; parameters from the GGUF)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from octoroute.arms.base import (
    ArmBase,
    CostModel,
    FlopsCost,
    PriceCost,
    PromptStyle,
    Sampling,
)
from octoroute.arms.models import MODELS, model_path
from octoroute.config import Settings
from octoroute.exceptions import ConfigError, DataError
from octoroute.fileio.text import read_toml

__all__ = [
    "DEFAULT",
    "DEFAULT_ARMS",
    "ArmRegistry",
    "ArmSpec",
    "CostSpec",
    "Pool",
    "default_pool",
    "load_pool",
    "register_arms",
]

DEFAULT = "default"
"""The name that selects the built-in offline pool where a pool file is expected."""

BACKENDS = ("openai", "llamacpp")

# The default pool's arms: (name, model, prompt style). The prompt is part of an arm. The Gemma
# base model echoes chat templates; SmolLM2 in completion style closes the code block at once
# (an empty body) but writes functions in chat. The Qwen coders are at their best in the
# instruct style (EvalPlus's prompt, the answer prefilled with the stub: HumanEval 0.421 ->
# 0.567 for the 0.5B model), and their completion style, with a fifth of the prompt, stays as
# its own cheaper arm that fails on other problems (9 of the 0.5B model's HumanEval passes).
DEFAULT_ARMS: tuple[tuple[str, str, PromptStyle], ...] = (
    ("smollm2-135m", "smollm2-135m", PromptStyle.CHAT),
    ("gemma3-270m", "gemma3-270m", PromptStyle.COMPLETION),
    ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b", PromptStyle.INSTRUCT),
    ("qwen2.5-coder-0.5b-completion", "qwen2.5-coder-0.5b", PromptStyle.COMPLETION),
    ("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b", PromptStyle.INSTRUCT),
    ("qwen2.5-coder-1.5b-completion", "qwen2.5-coder-1.5b", PromptStyle.COMPLETION),
)
"""The default pool's arms, smallest model first: (arm name, local model, prompt style)."""
DEFAULT_SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_tokens=512, seed=0)


@dataclass(frozen=True, slots=True)
class CostSpec:
    """How an arm is priced: ``unit`` is ``"flops"`` or ``"usd"``.

    FLOPs: 2 x ``parameters`` x tokens (``parameters`` None: read from the GGUF file).
    USD: ``usd_per_m_prompt`` and ``usd_per_m_completion`` dollars per million tokens.
    """

    unit: str = "flops"
    parameters: int | None = None
    usd_per_m_prompt: float = 0.0
    usd_per_m_completion: float = 0.0

    def model(self) -> CostModel | None:
        """The cost model, or None when the parameters must be read from the GGUF file."""
        if self.unit == "usd":
            return PriceCost(self.usd_per_m_prompt, self.usd_per_m_completion)
        return FlopsCost(self.parameters) if self.parameters is not None else None

    @property
    def label(self) -> str:
        """A one-line description that says the unit."""
        if self.unit == "usd":
            return (
                f"${self.usd_per_m_prompt:g}/M prompt + ${self.usd_per_m_completion:g}/M "
                "completion tokens (usd)"
            )
        if self.parameters is None:
            return "2 x parameters x tokens (flops; parameters from the GGUF)"
        return f"2 x {self.parameters:,} parameters x tokens (flops)"


@dataclass(frozen=True, slots=True)
class ArmSpec:
    """One arm of a pool, validated: what :meth:`Pool.build` turns into an arm."""

    name: str
    backend: str
    model: str
    style: PromptStyle = PromptStyle.CHAT
    sampling: Sampling = DEFAULT_SAMPLING
    cost: CostSpec = field(default_factory=CostSpec)
    endpoint: str = ""
    api_key_env: str | None = None
    timeout: float = 120.0
    connect_timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    concurrency: int = 4
    expect_gguf: str | None = None
    path: Path | None = None
    local_model: str | None = None
    sha256: str | None = None
    n_ctx: int = 4096
    threads: int = 2
    parallel: int = 1

    @property
    def cost_label(self) -> str:
        """The cost model in words, with its unit."""
        return self.cost.label


@dataclass(frozen=True, slots=True)
class Pool:
    """The arms of a pool (as specs: building an arm is cheap and does no I/O)."""

    specs: tuple[ArmSpec, ...]
    source: str = DEFAULT

    @property
    def names(self) -> tuple[str, ...]:
        """The arm names, in pool order."""
        return tuple(s.name for s in self.specs)

    def spec(self, name: str) -> ArmSpec:
        """The spec of arm ``name``; ConfigError naming the choices otherwise."""
        for s in self.specs:
            if s.name == name:
                return s
        raise ConfigError(f"no arm {name!r} in pool {self.source}: expected one of "
                          f"{', '.join(self.names)}")  # fmt: skip

    def select(self, names: Iterable[str] | None) -> Pool:
        """The pool restricted to ``names`` (in the order given); all arms when None."""
        if names is None:
            return self
        chosen = [self.spec(n.strip()) for n in names if n.strip()]
        if not chosen:
            raise ConfigError("no arm selected")
        return Pool(tuple(chosen), self.source)

    def build(self, name: str, **overrides: Any) -> ArmBase:
        """A new arm for ``name``; ``overrides`` replace spec fields (e.g. ``style``)."""
        spec = self.spec(name)
        if overrides:
            spec = dataclasses.replace(spec, **overrides)
        return build_arm(spec)

    def arms(self) -> list[ArmBase]:
        """A new arm for each spec (no model is loaded, no connection made)."""
        return [build_arm(s) for s in self.specs]


class ArmRegistry(Protocol):
    """Where a pool's arms are registered: the outcome log (:class:`~octoroute.store.Store`)."""

    def add_arm(
        self,
        name: str,
        *,
        backend: str,
        model: str,
        cost_unit: str,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Register one arm; True if it is new."""
        ...


def register_arms(registry: ArmRegistry, pool: Pool) -> None:
    """Register every arm of ``pool`` in the log (idempotent; a changed backend, model or cost
    unit under the same name is refused by the store)."""
    for spec in pool.specs:
        registry.add_arm(
            spec.name,
            backend=spec.backend,
            model=spec.model,
            cost_unit=spec.cost.unit,
            params={"style": spec.style.value, "n_ctx": spec.n_ctx, "threads": spec.threads},
        )


def build_arm(spec: ArmSpec) -> ArmBase:
    """The arm a spec describes."""
    if spec.backend == "llamacpp":
        from octoroute.arms.llamacpp import LlamaCppArm

        if spec.path is None:
            raise ConfigError(f"arm {spec.name}: a llamacpp arm needs a path or a local_model")
        return LlamaCppArm(
            spec.name,
            spec.path,
            model=spec.model,
            style=spec.style,
            sampling=spec.sampling,
            cost_model=spec.cost.model(),
            n_ctx=spec.n_ctx,
            threads=spec.threads,
            parallel=spec.parallel,
            timeout=spec.timeout,
            retries=min(spec.retries, 1),
            sha256=spec.sha256,
        )
    from octoroute.arms.openai_compat import OpenAICompatArm

    return OpenAICompatArm(
        spec.name,
        spec.model,
        spec.endpoint,
        style=spec.style,
        sampling=spec.sampling,
        cost_model=spec.cost.model() or PriceCost(0.0, 0.0),
        api_key_env=spec.api_key_env,
        timeout=spec.timeout,
        connect_timeout=spec.connect_timeout,
        retries=spec.retries,
        backoff=spec.backoff,
        concurrency=spec.concurrency,
        expect_gguf=spec.expect_gguf,
    )


def default_pool(
    arms: Sequence[str] | None = None, models_dir: Path | None = None, threads: int | None = None
) -> Pool:
    """The offline default pool: the four local models through llama.cpp, the two Qwen coders
    in two prompt styles each (:data:`DEFAULT_ARMS`); no file needed.

    ``arms`` selects some of them by name. Files live under ``models_dir`` (default: the
    cache's ``models`` folder); nothing is read until an arm is used. ``threads`` defaults to
    ``OCTOROUTE_THREADS`` (see :mod:`octoroute.config`), else 2.
    """
    if threads is None:
        threads = Settings.from_env().threads
    specs = tuple(
        ArmSpec(
            name=name,
            backend="llamacpp",
            model=MODELS[model].served_name,
            style=style,
            path=model_path(model, models_dir),
            local_model=model,
            sha256=MODELS[model].sha256,
            timeout=600.0,
            retries=1,
            concurrency=1,
            threads=threads,
        )
        for name, model, style in DEFAULT_ARMS
    )
    return Pool(specs, DEFAULT).select(arms)


def load_pool(source: str | Path, arms: Sequence[str] | None = None) -> Pool:
    """The pool ``source`` names: ``"default"`` or a TOML file; ``arms`` selects by name."""
    if str(source) == DEFAULT:
        return default_pool(arms)
    path = Path(source)
    return parse_pool(read_toml(path), str(path)).select(arms)


# -- validation ------------------------------------------------------------------------------

_ARM_KEYS = {
    "name", "backend", "model", "style", "sampling", "cost", "endpoint", "api_key_env",
    "timeout", "connect_timeout", "retries", "backoff", "concurrency", "expect_gguf", "path",
    "local_model", "sha256", "n_ctx", "threads", "parallel",
}  # fmt: skip
_SAMPLING_KEYS = {"temperature", "top_p", "max_tokens", "seed", "stop"}
_COST_KEYS = {"unit", "parameters", "usd_per_m_prompt", "usd_per_m_completion"}


class _Fields:
    """Typed reads from one TOML table, raising DataError(file, field: expected, found)."""

    def __init__(self, table: Mapping[str, Any], source: str, where: str) -> None:
        self.table = table
        self.source = source
        self.where = where

    def error(self, key: str, expected: str, found: Any = dataclasses.MISSING) -> DataError:
        shown = "nothing" if found is dataclasses.MISSING else f"{found!r}"
        return DataError(self.source, f"expected {expected}, found {shown}",
                         field=f"{self.where}.{key}")  # fmt: skip

    def unknown(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                message = f"unknown field; expected one of {expected}"
                raise DataError(self.source, message, field=f"{self.where}.{key}")

    def get(self, key: str, kind: type | tuple[type, ...], expected: str, default: Any) -> Any:
        if key not in self.table:
            if default is dataclasses.MISSING:
                raise self.error(key, expected)
            return default
        value = self.table[key]
        # bool is an int in Python: never accept it where a number is expected.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.error(key, expected, value)
        return value

    def text(self, key: str, default: Any = dataclasses.MISSING) -> Any:
        value = self.get(key, str, "a non-empty string", default)
        if isinstance(value, str) and not value.strip():
            raise self.error(key, "a non-empty string", value)
        return value

    def number(self, key: str, default: Any, *, low: float = 0.0, strict: bool = False) -> Any:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        value = self.get(key, (int, float), f"a number {bound}", default)
        if value is not None and (value < low or (strict and value == low)):
            raise self.error(key, f"a number {bound}", value)
        return value

    def integer(self, key: str, default: Any, *, low: int = 0) -> Any:
        value = self.get(key, int, f"an integer >= {low}", default)
        if value is not None and value < low:
            raise self.error(key, f"an integer >= {low}", value)
        return value

    def choice(self, key: str, choices: Sequence[str], default: Any = dataclasses.MISSING) -> Any:
        expected = " or ".join(repr(c) for c in choices)
        value = self.get(key, str, expected, default)
        if value not in choices:
            raise self.error(key, expected, value)
        return value

    def table_at(self, key: str) -> _Fields:
        value = self.get(key, dict, "a table", {})
        return _Fields(value, self.source, f"{self.where}.{key}")


def _sampling(f: _Fields) -> Sampling:
    f.unknown(_SAMPLING_KEYS)
    d = DEFAULT_SAMPLING
    stop = f.get("stop", list, "a list of strings", list(d.stop))
    if not all(isinstance(s, str) and s for s in stop):
        raise f.error("stop", "a list of non-empty strings", stop)
    seed = f.get("seed", int, "an integer", d.seed)
    return Sampling(
        temperature=float(f.number("temperature", d.temperature)),
        top_p=float(f.number("top_p", d.top_p, strict=True)),
        max_tokens=f.integer("max_tokens", d.max_tokens, low=1),
        seed=seed,
        stop=tuple(stop),
    )


def _cost(f: _Fields, backend: str) -> CostSpec:
    f.unknown(_COST_KEYS)
    unit = f.choice("unit", ("flops", "usd"), "flops" if backend == "llamacpp" else "usd")
    if unit == "usd":
        if "parameters" in f.table:
            raise f.error("parameters", "no parameters with unit 'usd'", f.table["parameters"])
        return CostSpec(
            "usd",
            usd_per_m_prompt=float(f.number("usd_per_m_prompt", 0.0)),
            usd_per_m_completion=float(f.number("usd_per_m_completion", 0.0)),
        )
    for key in ("usd_per_m_prompt", "usd_per_m_completion"):
        if key in f.table:
            raise f.error(key, "no dollar price with unit 'flops'", f.table[key])
    parameters = f.integer("parameters", None, low=1)
    if parameters is None and backend != "llamacpp":
        raise f.error("parameters", "an integer >= 1 (only a local GGUF can be read for it)")
    return CostSpec("flops", parameters=parameters)


def _arm(f: _Fields) -> ArmSpec:
    f.unknown(_ARM_KEYS)
    name = f.text("name")
    backend = f.choice("backend", BACKENDS)
    style = PromptStyle(f.choice("style", [s.value for s in PromptStyle],
                                 "completion" if backend == "llamacpp" else "chat"))  # fmt: skip
    common: dict[str, Any] = {
        "name": name,
        "backend": backend,
        "style": style,
        "sampling": _sampling(f.table_at("sampling")),
        "cost": _cost(f.table_at("cost"), backend),
        "timeout": float(f.number("timeout", 120.0, strict=True)),
        "connect_timeout": float(f.number("connect_timeout", 5.0, strict=True)),
        "retries": f.integer("retries", 3),
        "backoff": float(f.number("backoff", 0.5)),
        "concurrency": f.integer("concurrency", 4, low=1),
        "expect_gguf": f.get("expect_gguf", str, "a GGUF file name", None),
    }
    if backend == "openai":
        for key in ("path", "local_model", "sha256", "n_ctx", "threads", "parallel"):
            if key in f.table:
                raise f.error(key, "no such field for backend 'openai'", f.table[key])
        endpoint = f.text("endpoint")
        if not endpoint.startswith(("http://", "https://")):
            raise f.error("endpoint", "an http:// or https:// URL", endpoint)
        return ArmSpec(model=f.text("model"), endpoint=endpoint,
                       api_key_env=f.get("api_key_env", str, "a variable name", None),
                       **common)  # fmt: skip
    for key in ("endpoint", "api_key_env"):
        if key in f.table:
            raise f.error(key, "no such field for backend 'llamacpp'", f.table[key])
    local = f.get("local_model", str, f"one of {', '.join(MODELS)}", None)
    raw_path = f.get("path", str, "a GGUF file path", None)
    if (local is None) == (raw_path is None):
        raise f.error("path", "exactly one of path and local_model", raw_path)
    if local is not None and local not in MODELS:
        raise f.error("local_model", f"one of {', '.join(MODELS)}", local)
    if local is not None:
        path = model_path(local)
        sha256 = MODELS[local].sha256
        default_model = MODELS[local].served_name
    else:
        path = Path(raw_path).expanduser()
        sha256 = f.get("sha256", str, "a SHA-256 hex digest", None)
        default_model = path.name.removesuffix(".gguf")
    return ArmSpec(
        model=f.get("model", str, "a model name", default_model),
        path=path,
        local_model=local,
        sha256=sha256,
        n_ctx=f.integer("n_ctx", 4096, low=256),
        threads=f.integer("threads", 2, low=1),
        parallel=f.integer("parallel", 1, low=1),
        **common,
    )


def parse_pool(data: Mapping[str, Any], source: str = "<pool>") -> Pool:
    """Validate a parsed pool file; DataError naming the file and field on the first problem."""
    top = _Fields(data, source, "pool")
    top.unknown({"arms"})
    arms = data.get("arms")
    if not isinstance(arms, list) or not arms:
        raise DataError(source, "expected a non-empty [[arms]] array of tables", field="arms")
    specs: list[ArmSpec] = []
    for i, table in enumerate(arms):
        if not isinstance(table, dict):
            raise DataError(source, f"expected a table, found {table!r}", field=f"arms[{i}]")
        spec = _arm(_Fields(table, source, f"arms[{i}]"))
        if spec.name in {s.name for s in specs}:
            raise DataError(source, f"duplicate arm name {spec.name!r}", field=f"arms[{i}].name")
        specs.append(spec)
    return Pool(tuple(specs), source)
