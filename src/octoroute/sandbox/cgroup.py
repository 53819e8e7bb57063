"""Memory cgroups for sandbox workers: one per worker, and inside it one for its candidates.

The address-space limit counts only what a process maps. Shared memory, tmpfs pages, pipe
buffers and kernel objects are charged to the memory cgroup instead, so where the machine
allows it (root, or a delegated cgroup v2 subtree) each worker lives in a cgroup of its own and
its candidates (the zygote and everything it forks) in a child cgroup with a tighter limit: a
candidate that exhausts it is killed by the kernel's OOM killer inside that cgroup only, and the
broker, reading the cgroup's ``oom_kill`` counter, judges it ``memory_limit``. Where no cgroup
can be made, :func:`probe` says why, and the executor reports which bounds hold instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

_PREFIX = "octoroute-"
_names = itertools.count()


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Where this process may create memory cgroups: a directory and the cgroup version."""

    path: Path
    version: int

    @property
    def limit_file(self) -> str:
        """The file that holds a cgroup's memory limit."""
        return "memory.limit_in_bytes" if self.version == 1 else "memory.max"

    @property
    def events_file(self) -> str:
        """The file whose ``oom_kill`` line counts OOM kills in a cgroup."""
        return "memory.oom_control" if self.version == 1 else "memory.events"


def _mounts() -> list[tuple[str, str, str, str]]:
    """(root within the hierarchy, mount point, fs type, super options) of cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                out.append((fields[3], fields[4], tail[0], tail[2]))
    return out


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per controller list (``""`` for the v2 hierarchy)."""
    out = {}
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                out[parts[1]] = parts[2]
    return out


def _within(mount_root: str, mount_point: str, path: str) -> Path:
    rel = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    return Path(mount_point) / ("" if rel == "." else rel)


def find() -> tuple[Hierarchy | None, str]:
    """The memory hierarchy this process may create cgroups in, or None and the reason."""
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as e:
        return None, f"cannot read /proc ({e})"
    for root, point, fstype, options in mounts:
        if fstype == "cgroup" and "memory" in options.split(","):
            path = next((p for c, p in own.items() if "memory" in c.split(",")), None)
            if path is not None:
                return _writable(Hierarchy(_within(root, point, path), 1))
    for root, point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            # Processes may not share a v2 cgroup with child cgroups that have controllers:
            # new cgroups go beside this process's own, under its parent.
            here = _within(root, point, own[""])
            parent = here.parent
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError as e:
                return None, f"cannot read {parent}/cgroup.subtree_control ({e})"
            if "memory" not in enabled:
                return None, f"the memory controller is not delegated to {parent}"
            return _writable(Hierarchy(parent, 2))
    return None, "no memory cgroup hierarchy is mounted"


def _writable(h: Hierarchy) -> tuple[Hierarchy | None, str]:
    if not os.access(h.path, os.W_OK):
        return None, f"{h.path} is not writable by this user"
    return h, ""


@dataclass
class WorkerCgroup:
    """A worker's memory cgroup and its candidates' child cgroup."""

    hierarchy: Hierarchy
    path: Path

    @property
    def candidates(self) -> Path:
        """The child cgroup of the worker's candidates."""
        return self.path / "candidates"

    @classmethod
    def create(cls, h: Hierarchy, worker_bytes: int, candidate_bytes: int) -> WorkerCgroup:
        """Make the two cgroups with their limits (swap counted in, where it is separate)."""
        _remove_stale(h)
        path = h.path / f"{_PREFIX}{os.getpid()}-{next(_names)}"
        path.mkdir()
        cg = cls(h, path)
        try:
            cg.candidates.mkdir()
            _limit(h, path, worker_bytes)
            _limit(h, cg.candidates, candidate_bytes)
        except OSError:
            cg.remove()
            raise
        return cg

    def open_fds(self) -> dict[str, int]:
        """Descriptors the worker inherits: where to move itself, where to move its zygote,
        and the candidates' OOM counter."""
        return {
            "worker_procs": os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC),
            "candidates_procs": os.open(
                self.candidates / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC
            ),
            "candidates_events": os.open(
                self.candidates / self.hierarchy.events_file, os.O_RDONLY | os.O_CLOEXEC
            ),
        }

    def remove(self, wait: float = 2.0) -> None:
        """Remove both cgroups once their processes are gone (retrying for ``wait`` seconds)."""
        deadline = time.monotonic() + wait
        for p in (self.candidates, self.path):
            while True:
                try:
                    p.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        return  # left for :func:`_remove_stale` of a later executor
                    time.sleep(0.01)


def _limit(h: Hierarchy, path: Path, size: int) -> None:
    (path / h.limit_file).write_text(str(size))
    # Swap must not lift the bound: v1 counts memory plus swap in memsw (set after memory),
    # v2 limits swap apart.
    swap = path / ("memory.memsw.limit_in_bytes" if h.version == 1 else "memory.swap.max")
    if swap.exists():
        swap.write_text(str(size) if h.version == 1 else "0")


def _remove_stale(h: Hierarchy) -> None:
    """Remove cgroups left by executors whose process died without closing them."""
    with contextlib.suppress(OSError):
        for entry in h.path.iterdir():
            name = entry.name
            if not name.startswith(_PREFIX):
                continue
            pid = name[len(_PREFIX) :].split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            WorkerCgroup(h, entry).remove(wait=0.0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def probe() -> tuple[Hierarchy | None, str]:
    """Whether a worker cgroup can really be made here: the hierarchy, or None and why."""
    h, reason = find()
    if h is None:
        return None, reason
    try:
        WorkerCgroup.create(h, 1 << 30, 1 << 29).remove()
    except OSError as e:
        return None, f"cannot create a memory cgroup under {h.path} ({e})"
    return h, ""
