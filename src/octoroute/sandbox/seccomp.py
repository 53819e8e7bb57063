"""A seccomp filter for untrusted code, assembled as classic BPF (no libseccomp needed).

What the filter does, on x86_64 (other architectures are refused, never silently unfiltered):

- kills the process (``SIGSYS``, judged ``sandbox_violation``) on sockets, exec, fork/vfork,
  ``clone`` of a new process, ptrace and cross-process memory access, mounts and namespaces,
  kernel keyrings, BPF, perf, io_uring, module loading, clock setting and similar;
- refuses new threads (``EAGAIN``: Python raises ``RuntimeError``) and ``clone3`` (``ENOSYS``,
  so the C library falls back to ``clone``, which the rule above sees);
- answers ``EPERM`` to signals, ``prlimit`` and scheduling changes aimed at any other process,
  and to every way of making the kernel signal one later: joining another process group
  (``setpgid``, ``setsid``, after which ``kill(0)`` would reach that group), naming another
  process as the owner of a descriptor's I/O signals (``fcntl`` ``F_SETOWN``/``F_SETOWN_EX``/
  ``F_SETSIG``, ``ioctl`` ``FIOSETOWN``/``SIOCSPGRP``), and ``TIOCSTI``;
- answers ``EPERM`` to memory the address-space limit does not count and that could outlive
  the process: ``memfd_create``, ``memfd_secret``, System V and POSIX IPC, AIO contexts;
- kills any call made through a foreign system-call ABI (x32, i386), a classic filter bypass.
"""

from __future__ import annotations

import errno
import functools
import struct

from octoroute.exceptions import IsolationUnavailable

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_JA = 0x05
_RET = 0x06

RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000


def _ret_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


_ARCH = {"x86_64": 0xC000003E}

# x86_64 system-call numbers.
_KILL_ON = {
    "socket": 41, "socketpair": 53, "execve": 59, "execveat": 322, "fork": 57, "vfork": 58,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "bpf": 321,
    "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
    "request_key": 249, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168,
    "acct": 163, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
    "adjtimex": 159, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "quotactl": 179, "open_by_handle_at": 304, "name_to_handle_at": 303, "syslog": 103,
    "kcmp": 312, "pidfd_open": 434, "pidfd_getfd": 438, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "fanotify_init": 300, "mknod": 133,
    "mknodat": 259, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "modify_ldt": 154, "uselib": 134,
    "vhangup": 153, "lookup_dcookie": 212,
}  # fmt: skip
_EPERM_ON = {
    "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424,
    "setpriority": 141, "sched_setscheduler": 144, "sched_setparam": 142, "ioprio_set": 251,
    "migrate_pages": 256, "move_pages": 279, "setpgid": 109, "setsid": 112,
    "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "shmat": 30, "shmctl": 31,
    "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220, "msgget": 68,
    "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240, "mq_unlink": 241,
    "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "io_setup": 206, "process_madvise": 440, "process_mrelease": 448,
}  # fmt: skip
# EPERM when the second argument (a command) is one of these: fcntl and ioctl commands that
# make the kernel send signals to a process of the caller's choosing.
_EPERM_COMMANDS = {
    72: (8, 10, 15),  # fcntl: F_SETOWN, F_SETSIG, F_SETOWN_EX
    16: (0x8901, 0x8902, 0x5412),  # ioctl: FIOSETOWN, SIOCSPGRP, TIOCSTI
}
# Allowed only when the first argument names this process (or 0, "myself", where marked).
_SELF_ONLY = {"kill": (62, True), "tkill": (200, False), "tgkill": (234, False),
              "prlimit64": (302, True), "sched_setaffinity": (203, True),
              "sched_setattr": (314, True)}  # fmt: skip
_CLONE = 56
_CLONE3 = 435
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(arch: str, own_pid: int) -> bytes:
    """Assemble the filter for ``arch``, allowing self-directed calls for ``own_pid``.

    Raises :class:`IsolationUnavailable` for an architecture the filter does not know.

    >>> len(build_filter("x86_64", 1234)) % 8
    0
    """
    out = [_static_part(arch)]
    for nr, zero_ok in _SELF_ONLY.values():
        out += [
            _insn(_JEQ, nr, 0, 5),
            _insn(_LD_W_ABS, 16),
            _insn(_JEQ, own_pid, 2, 0),
            _insn(_JEQ, 0 if zero_ok else own_pid, 1, 0),
            _insn(_RET, _ret_errno(errno.EPERM)),
            _insn(_RET, RET_ALLOW),
        ]
    out.append(_insn(_RET, RET_ALLOW))
    return b"".join(out)


@functools.cache
def _static_part(arch: str) -> bytes:
    """The filter's instructions that do not depend on the process (built once per process,
    so that a fork server's children inherit them ready)."""
    audit_arch = _ARCH.get(arch)
    if audit_arch is None:
        raise IsolationUnavailable(
            f"the seccomp layer has no system-call table for {arch!r}; "
            "run without the 'seccomp' layer to accept weaker isolation"
        )
    out = [
        _insn(_LD_W_ABS, 4),  # seccomp_data.arch
        _insn(_JEQ, audit_arch, 1, 0),
        _insn(_RET, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0),  # seccomp_data.nr
        _insn(_JGE, _X32_BIT, 0, 1),
        _insn(_RET, RET_KILL_PROCESS),
    ]
    for nr in _KILL_ON.values():
        out += [_insn(_JEQ, nr, 0, 1), _insn(_RET, RET_KILL_PROCESS)]
    for nr in _EPERM_ON.values():
        out += [_insn(_JEQ, nr, 0, 1), _insn(_RET, _ret_errno(errno.EPERM))]
    out += [_insn(_JEQ, _CLONE3, 0, 1), _insn(_RET, _ret_errno(errno.ENOSYS))]
    # clone: a thread gets EAGAIN, a new process is a violation. A is reloaded after each block.
    out += [
        _insn(_JEQ, _CLONE, 0, 4),
        _insn(_LD_W_ABS, 16),  # args[0], low word: the flags
        _insn(_JSET, _CLONE_THREAD, 0, 1),
        _insn(_RET, _ret_errno(errno.EAGAIN)),
        _insn(_RET, RET_KILL_PROCESS),
    ]
    for nr, commands in _EPERM_COMMANDS.items():
        n = len(commands)
        out += [_insn(_JEQ, nr, 0, n + 4), _insn(_LD_W_ABS, 24)]  # args[1], low word
        out += [_insn(_JEQ, cmd, n + 1 - i, 0) for i, cmd in enumerate(commands)]
        out += [_insn(_LD_W_ABS, 0), _insn(_JA, 1)]  # no match: reload nr, skip the EPERM
        out += [_insn(_RET, _ret_errno(errno.EPERM))]
    return b"".join(out)
