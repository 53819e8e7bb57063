"""Thin ctypes wrappers over the Linux calls the sandbox needs (Python 3.11 lacks them).

Each wrapper raises ``OSError`` with the errno on failure. Nothing runs at import time except
looking up the C library lazily on first use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from functools import cache

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}


@cache
def libc() -> ctypes.CDLL:
    """The C library, loaded once with errno support."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def machine() -> str:
    """The CPU architecture name as the kernel reports it (``x86_64``, ``aarch64``)."""
    return platform.machine()


def unshare(flags: int) -> None:
    """Move this process into new namespaces."""
    _check(libc().unshare(ctypes.c_int(flags)), "unshare")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    """mount(2)."""

    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    fn = libc().mount
    fn.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    _check(fn(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def umount2(target: str, flags: int) -> None:
    """umount2(2)."""
    _check(libc().umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2), through syscall(2) since glibc has no wrapper."""
    nr = _SYS_PIVOT_ROOT.get(machine())
    if nr is None:
        raise OSError(0, f"pivot_root: unsupported architecture {machine()}")
    _check(libc().syscall(nr, new_root.encode(), put_old.encode()), "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments."""
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    return _check(fn(option, arg2, arg3, arg4, arg5), "prctl")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Clear the bounding set and every capability set of this process."""
    drop_bounding_set()
    clear_capabilities()


def drop_bounding_set() -> None:
    """Clear the capability bounding set (inherited by children: a fork server does it once)."""
    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break  # past the last capability this kernel knows


def clear_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets of this process."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    nr = _SYS_CAPSET.get(machine())
    if nr is None:
        raise OSError(0, f"capset: unsupported architecture {machine()}")
    _check(libc().syscall(nr, ctypes.byref(header), ctypes.byref(data)), "capset")


def cpu_clock(pid: int) -> int:
    """The clock id of another process's CPU time, for :func:`time.clock_gettime`."""
    clk = ctypes.c_int()
    err = libc().clock_getcpuclockid(ctypes.c_int(pid), ctypes.byref(clk))
    if err:
        raise OSError(err, f"clock_getcpuclockid: {os.strerror(err)}")
    return clk.value


def install_seccomp(program: bytes) -> None:
    """Install a classic-BPF seccomp filter (``program`` is packed ``sock_filter`` entries)."""

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    _check(fn(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0), "seccomp")
