"""Isolation layers: namespaces and a minimal root (per worker), limits and seccomp (per child).

A worker enters new user, mount, network, PID, IPC and UTS namespaces once, then builds a
read-only root that holds only the Python standard library, the system's shared libraries and
four device nodes: the host's files, the project and its data are not there, and ``sys.path``
keeps only the standard library. Each candidate then enters mount and IPC namespaces of its own
with a fresh size-limited ``/tmp`` (files and shared memory die with it), and every sandboxed
child drops every capability, sets resource limits and installs the seccomp filter before it
touches untrusted code. Memory cgroups (:mod:`.cgroup`) bound what rlimits cannot see.
"""

from __future__ import annotations

import enum
import os
import resource
import socket
import sys
import sysconfig
from dataclasses import dataclass

from octoroute.exceptions import IsolationUnavailable
from octoroute.sandbox import _linux, seccomp


class Layer(enum.StrEnum):
    """An isolation layer a verdict reports as in force."""

    USER_NS = "user_ns"
    MOUNT_NS = "mount_ns"
    NET_NS = "net_ns"
    PID_NS = "pid_ns"
    IPC_NS = "ipc_ns"
    RLIMITS = "rlimits"
    SECCOMP = "seccomp"
    NO_CAPS = "no_capabilities"
    DEADLINE = "wall_deadline"
    MEMORY_CGROUP = "memory_cgroup"
    """A memory cgroup bounds each worker and its candidates, counting shared memory, tmpfs
    and pipe buffers that the address-space limit does not see."""


NAMESPACE_LAYERS = frozenset(
    {Layer.USER_NS, Layer.MOUNT_NS, Layer.NET_NS, Layer.PID_NS, Layer.IPC_NS}
)
ALL_LAYERS = frozenset(Layer)
DEFAULT_LAYERS = ALL_LAYERS - {Layer.MEMORY_CGROUP}
"""The layers every machine with user namespaces provides; the executor adds the memory cgroup
where the machine allows one (see :class:`~octoroute.sandbox.executor.Executor`)."""
SANDBOX_UID = 1000
TMP_INODES = 4096
"""Files and directories a candidate's ``/tmp`` may hold (each costs kernel memory)."""


@dataclass(frozen=True, slots=True)
class ChildLimits:
    """Resource limits of one sandboxed child."""

    memory_bytes: int = 2 << 30
    cpu_seconds: int = 60
    file_bytes: int = 16 << 20
    open_files: int = 64
    tmp_bytes: int = 64 << 20
    cgroup_bytes: int = 0
    """What a worker's candidates may hold in all, counted by their memory cgroup (where there
    is one); 0 for ``memory_bytes + tmp_bytes`` and 256 MiB for pipes, the zygote and a spare."""


def enter_namespaces() -> None:
    """Unshare all namespaces and map the caller to an unprivileged uid inside.

    Raises :class:`IsolationUnavailable` with the reason when the kernel refuses.
    """
    uid, gid = os.getuid(), os.getgid()
    flags = (
        _linux.CLONE_NEWUSER
        | _linux.CLONE_NEWNS
        | _linux.CLONE_NEWNET
        | _linux.CLONE_NEWPID
        | _linux.CLONE_NEWIPC
        | _linux.CLONE_NEWUTS
    )
    try:
        _linux.unshare(flags)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{SANDBOX_UID} {uid} 1")
        _write("/proc/self/gid_map", f"{SANDBOX_UID} {gid} 1")
    except OSError as e:
        raise IsolationUnavailable(
            f"cannot create namespaces ({e}); unprivileged user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces>0, or an "
            "AppArmor restriction); ask for fewer layers to run without them"
        ) from e
    socket.sethostname("sandbox")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _base_paths() -> dict[str, str]:
    """Install paths of the base interpreter (a virtual environment's own are left out)."""
    base = {
        "base": sys.base_prefix,
        "platbase": sys.base_exec_prefix,
        "installed_base": sys.base_prefix,
        "installed_platbase": sys.base_exec_prefix,
    }
    return sysconfig.get_paths(scheme="posix_prefix", vars=base)


def _readonly_sources() -> list[str]:
    """Host directories the sandbox needs: the standard library and shared libraries."""
    paths = _base_paths()
    wanted = [paths["stdlib"], paths["platstdlib"]]
    wanted += ["/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32"]
    out: list[str] = []
    for p in wanted:
        if os.path.lexists(p) and p not in out:
            out.append(p)
    return out


_ST_TO_MS = {
    os.ST_NOSUID: _linux.MS_NOSUID,
    os.ST_NODEV: _linux.MS_NODEV,
    os.ST_NOEXEC: _linux.MS_NOEXEC,
    os.ST_NOATIME: 1024,
    os.ST_NODIRATIME: 2048,
    os.ST_RELATIME: 1 << 21,
}


def _bind_readonly(source: str, target: str) -> None:
    _linux.mount(source, target, None, _linux.MS_BIND | _linux.MS_REC, None)
    # A remount in a user namespace must keep the flags the kernel locked on the source.
    locked = 0
    st = os.statvfs(target)
    for st_flag, ms_flag in _ST_TO_MS.items():
        if st.f_flag & st_flag:
            locked |= ms_flag
    flags = _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_RDONLY | _linux.MS_NOSUID | locked
    _linux.mount(None, target, None, flags, None)


def build_root(tmp_bytes: int) -> None:
    """Pivot into a fresh read-only root with only what Python needs (bubblewrap's recipe)."""
    try:
        _build_root(tmp_bytes)
    except OSError as e:
        raise IsolationUnavailable(f"cannot build the sandbox file system: {e}") from e


def _build_root(tmp_bytes: int) -> None:
    sources = _readonly_sources()
    _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE, None)
    _linux.mount("tmpfs", "/tmp", "tmpfs", _linux.MS_NOSUID | _linux.MS_NODEV, "size=1m,mode=0755")
    os.mkdir("/tmp/oldroot")
    os.mkdir("/tmp/newroot")
    _linux.mount(
        "tmpfs", "/tmp/newroot", "tmpfs", _linux.MS_NOSUID | _linux.MS_NODEV, "size=1m,mode=0755"
    )
    _linux.pivot_root("/tmp", "/tmp/oldroot")
    os.chdir("/")
    new = "/newroot"
    for src in sources:
        dest = new + src
        host = "/oldroot" + src
        if os.path.islink(host):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not os.path.lexists(dest):
                os.symlink(os.readlink(host), dest)
            continue
        if not os.path.isdir(host):
            continue
        os.makedirs(dest, exist_ok=True)
        _bind_readonly(host, dest)
    _hide_site_packages(new)
    os.makedirs(new + "/dev", exist_ok=True)
    for dev in ("null", "zero", "random", "urandom"):
        target = f"{new}/dev/{dev}"
        open(target, "w").close()
        try:
            _linux.mount(f"/oldroot/dev/{dev}", target, None, _linux.MS_BIND, None)
        except OSError:
            os.unlink(target)  # not essential: programs rarely open devices
    os.makedirs(new + "/tmp", exist_ok=True)
    _mount_tmp(new + "/tmp", tmp_bytes)
    _linux.umount2("/oldroot", _linux.MNT_DETACH)
    os.chdir(new)
    _linux.pivot_root(".", ".")
    _linux.umount2(".", _linux.MNT_DETACH)
    os.chdir("/")
    _linux.mount(None, "/", None, _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_RDONLY
                 | _linux.MS_NOSUID | _linux.MS_NODEV, None)  # fmt: skip
    os.chdir("/tmp")


def _mount_tmp(target: str, size: int) -> None:
    """A fresh tmpfs at ``target``, bounded in bytes and in files."""
    _linux.mount("tmpfs", target, "tmpfs", _linux.MS_NOSUID | _linux.MS_NODEV,
                 f"size={size},nr_inodes={TMP_INODES},mode=1777")  # fmt: skip


def enter_private_tmp(size: int, ipc: bool) -> None:
    """Give the calling process mount (and IPC) namespaces of its own and a fresh ``/tmp``.

    Called in each candidate before it is confined: what it writes to ``/tmp``, and any IPC
    object it could create, die with it instead of waiting for the next job.
    """
    _linux.unshare(_linux.CLONE_NEWNS | (_linux.CLONE_NEWIPC if ipc else 0))
    _mount_tmp("/tmp", size)
    os.chdir("/tmp")


def isolate_imports() -> None:
    """Keep only the standard library on ``sys.path`` (never a folder a program could write)."""
    paths = _base_paths()
    keep = {paths["stdlib"], paths["platstdlib"], os.path.join(paths["platstdlib"], "lib-dynload")}
    sys.path[:] = [p for p in sys.path if p in keep]
    sys.path_importer_cache.clear()


def _hide_site_packages(new_root: str) -> None:
    """Cover third-party packages under the standard library with an empty read-only tmpfs."""
    paths = _base_paths()
    for key in ("purelib", "platlib"):
        target = new_root + paths[key]
        if os.path.isdir(target):
            _linux.mount("tmpfs", target, "tmpfs", _linux.MS_RDONLY | _linux.MS_NOSUID
                         | _linux.MS_NODEV, "size=4k")  # fmt: skip


def confine_child(limits: ChildLimits, layers: frozenset[Layer], candidate: bool = False) -> None:
    """Apply the per-child layers to the calling (freshly forked) process.

    A ``candidate`` gets its own ``/tmp``, and comes from the zygote, which has cleared the
    capability bounding set already. Order matters: the private ``/tmp`` first (it needs the
    capabilities), then limits and capabilities, the seccomp filter last, since it forbids
    nothing these calls need but must be in force before any untrusted byte runs.
    """
    if candidate and Layer.MOUNT_NS in layers:
        enter_private_tmp(limits.tmp_bytes, ipc=Layer.IPC_NS in layers)
    if Layer.RLIMITS in layers:
        for res, value in (
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, 0),
        ):
            # CPU: SIGXCPU at the soft limit, SIGKILL one second later at the hard one.
            hard = value + 1 if res == resource.RLIMIT_CPU else value
            resource.setrlimit(res, (value, hard))
    if Layer.NO_CAPS in layers:
        if candidate:
            _linux.clear_capabilities()
        else:
            _linux.drop_capabilities()
    _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
    if Layer.SECCOMP in layers:
        _linux.install_seccomp(seccomp.build_filter(_linux.machine(), os.getpid()))
