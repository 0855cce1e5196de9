"""Running code inside a bubblewrap sandbox: no network, no host secrets, kernel limits."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from flowagents.errors import CodeExecutionError, SandboxUnavailableError
from flowagents.execution._limits import ExecutionLimits, count_processes, rlimit_setter
from flowagents.execution._process import ProcessOutcome, run_process
from flowagents.execution._result import signal_name
from flowagents.execution._run import SubprocessExecutor

#: Where the work dir appears inside the sandbox.
WORKSPACE = "/workspace"

#: The uid and gid code runs as when the caller is root ("nobody").
NOBODY = 65534

_INSTALL_HINT = (
    "install bubblewrap (apt-get install bubblewrap) or opt into unisolated execution with "
    "code_execution_config={'executor': 'local'}"
)

# Top-level system dirs: bound read-only, or recreated as the symlinks they are on usrmerge
# systems (/bin -> usr/bin).
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# What programs need from /etc; the rest of /etc (credentials, host config) stays out.
_ETC_FILES = (
    "alternatives",
    "ca-certificates",
    "group",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "protocols",
    f"python{sys.version_info.major}.{sys.version_info.minor}",
    f"python{sys.version_info.major}",
    "services",
    # Not /etc/ssl as a whole: /etc/ssl/private holds the host's TLS keys.
    "ssl/certs",
    "ssl/openssl.cnf",
    "timezone",
)

# The dirs that hold _ETC_FILES; made explicitly since bwrap would create them 0700, out of
# reach of the sandbox uid.
_ETC_DIRS = ("/etc", "/etc/ssl")

# Run as root inside the mount namespace just long enough to drop to the sandbox uid; with
# --unshare-user instead, the sandbox uid would map to root outside, and root ignores
# RLIMIT_NPROC, so a fork bomb would not be contained.
# Python ignores SIGPIPE and SIGXFSZ and exec keeps that; restore the defaults the code expects.
_DROP_PRIVILEGES = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGPIPE, signal.SIG_DFL); signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
    "uid, gid = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.setgroups([]); os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid)\n"
    # chdir as the sandbox uid: root without capabilities may not enter a 0700 work dir.
    "os.chdir(sys.argv[3])\n"
    "os.execv(sys.argv[4], sys.argv[4:])\n"
)


# keyctl(2) by machine: Python has no wrapper, and libkeyutils may not be installed.
_SYS_KEYCTL = {
    "x86_64": 250,
    "aarch64": 219,
    "riscv64": 219,
    "ppc64le": 271,
    "ppc64": 271,
    "s390x": 280,
    "i686": 288,
    "i386": 288,
    "armv7l": 311,
}
_KEYCTL_JOIN_SESSION_KEYRING = 1


def _keyring_separator() -> Callable[[], None]:
    """Return a ``preexec_fn`` that gives the child a new, empty session keyring.

    A process that inherits a session keyring possesses it whatever its uid, so without this
    the code could read the keys in it (Kerberos tickets, credentials). bwrap does not do it.
    """
    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        raise SandboxUnavailableError(
            f"cannot give the sandbox a session keyring of its own on {platform.machine()!r} "
            "(keyctl's syscall number is unknown), so the code could read the caller's keys",
            where="keyctl",
        )
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long

    def join() -> None:
        # Runs between fork and exec. ENOSYS (no keyrings in the kernel) or EPERM (keyctl
        # filtered out, as Docker's seccomp profile does, for the code too): nothing to read.
        if syscall(number, _KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
            code = ctypes.get_errno()
            if code not in (errno.ENOSYS, errno.EPERM):
                raise OSError(code, f"keyctl(JOIN_SESSION_KEYRING): {os.strerror(code)}")

    return join


def _can_size_tmpfs(bwrap: str) -> bool:
    """Whether ``bwrap`` has ``--size`` (bubblewrap 0.7.0 and later)."""
    try:
        answer = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    found = re.search(r"(\d+)\.(\d+)", answer)
    return found is not None and (int(found[1]), int(found[2])) >= (0, 7)


def _interpreter_prefixes(python: str) -> list[str]:
    """Directories to bind so ``python`` (a venv's or the system's) works inside."""
    candidates = {
        os.path.dirname(os.path.dirname(os.path.abspath(python))),
        os.path.dirname(os.path.dirname(os.path.realpath(python))),
    }
    if python == sys.executable:
        candidates |= {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
    home = str(Path.home())
    prefixes = []
    for path in sorted(candidates):
        if path in ("/", home, "/usr") or path.startswith("/usr/"):
            continue  # already bound, or too much to expose
        prefixes.append(path)
    return prefixes


def _parents(path: str) -> list[str]:
    parts = Path(path).parents
    return [str(p) for p in reversed(parts) if str(p) not in ("/", "/tmp")]


class SandboxExecutor(SubprocessExecutor):
    """Run code blocks in a bubblewrap sandbox.

    The code gets its own network (loopback only), pid, ipc and uts namespaces, a new terminal
    session, read-only system dirs and interpreter, a private ``/tmp``, the work dir at
    ``/workspace`` (its ``HOME``), and a scrubbed environment. When the caller is root the
    code runs as ``sandbox_uid`` (nobody) so RLIMIT_NPROC applies.
    """

    def __init__(
        self,
        work_dir: Path | str = "coding",
        limits: ExecutionLimits | None = None,
        *,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        bwrap: str = "bwrap",
        sandbox_uid: int = NOBODY,
        sandbox_gid: int = NOBODY,
        ro_binds: Sequence[str | Path] = (),
    ) -> None:
        super().__init__(work_dir=work_dir, limits=limits)
        found = shutil.which(bwrap)
        if found is None:
            raise SandboxUnavailableError(
                f"bubblewrap was not found ({bwrap!r}); {_INSTALL_HINT}", where=bwrap
            )
        self.bwrap = found
        self.tmp_limited = _can_size_tmpfs(found)
        self.python = os.path.abspath(python or sys.executable)
        self.python_real = os.path.realpath(self.python)
        self.extra_env = dict(env or {})
        self.privileged = os.geteuid() == 0
        self.sandbox_uid = sandbox_uid if self.privileged else os.getuid()
        self.sandbox_gid = sandbox_gid if self.privileged else os.getgid()
        self.ro_binds = [os.path.abspath(p) for p in ro_binds]
        self._join_new_keyring = _keyring_separator()
        self._checked = False

    @property
    def name(self) -> str:
        """``sandbox``."""
        return "sandbox"

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": f"{os.path.dirname(self.python)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": WORKSPACE,
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(self.extra_env)
        return env

    def bwrap_argv(self, command: Sequence[str], *, info_fd: int | None = None) -> list[str]:
        """Return the full ``bwrap ...`` command line that runs ``command`` in the sandbox."""
        if self.privileged:
            # No user namespace: see _DROP_PRIVILEGES. The shim needs only setuid/setgid.
            args = [
                self.bwrap,
                *("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"),
                "--unshare-cgroup-try",
                *("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"),
            ]
        else:
            args = [self.bwrap, "--unshare-all"]
        args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        args += ["--ro-bind", "/usr", "/usr"]
        for path in _SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for parent in _ETC_DIRS:
            args += ["--perms", "0755", "--dir", parent]
        for name in _ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        if self.tmp_limited:
            # Without a size a tmpfs may take half the host's memory, which RLIMIT_AS ignores.
            args += ["--size", str(self.limits.tmp_bytes)]
        args += ["--perms", "1777", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
        for path in [*_interpreter_prefixes(self.python), *self.ro_binds]:
            for parent in _parents(path):
                # Without this, bwrap copies the host mode (0700 for /root) and nobody
                # could reach the interpreter.
                args += ["--perms", "0755", "--dir", parent]
            args += ["--ro-bind", path, path]
        args += ["--bind", str(self.work_dir), WORKSPACE]
        if not self.privileged:
            args += ["--chdir", WORKSPACE]
        args += ["--clearenv"]
        for key, value in self._env().items():
            args += ["--setenv", key, value]
        if info_fd is not None:
            args += ["--info-fd", str(info_fd)]
        args.append("--")
        if self.privileged:
            uid, gid = str(self.sandbox_uid), str(self.sandbox_gid)
            args += [self.python_real, "-I", "-S", "-c", _DROP_PRIVILEGES, uid, gid, WORKSPACE]
        return args + list(command)

    def _command(self, language: str, path: Path) -> list[str]:
        inside = f"{WORKSPACE}/{path.name}"
        if language == "python":
            # The venv's own path (not its target) so that python finds pyvenv.cfg.
            return [self.python, inside]
        return ["/bin/bash" if language == "bash" else "/bin/sh", inside]

    async def _spawn(
        self, command: Sequence[str], *, timeout_s: float, output_limit: int
    ) -> tuple[ProcessOutcome, bool]:
        """Run ``command`` in the sandbox; also say whether bwrap got as far as starting it."""
        count = await asyncio.to_thread(count_processes, self.sandbox_uid)
        nproc = count + self.limits.max_processes
        set_limits = rlimit_setter(self.limits, nproc=nproc)

        def preexec() -> None:
            set_limits()
            self._join_new_keyring()

        read_fd, write_fd = os.pipe()
        try:
            outcome = await run_process(
                self.bwrap_argv(command, info_fd=write_fd),
                cwd=self.work_dir,
                env={},
                timeout_s=timeout_s,
                output_limit=output_limit,
                preexec_fn=preexec,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        try:
            os.set_blocking(read_fd, False)
            with contextlib.suppress(BlockingIOError):
                started = bool(os.read(read_fd, 4096))
        finally:
            os.close(read_fd)
        return outcome, started

    async def _prepare(self) -> None:
        if self.privileged:
            os.chown(self.work_dir, self.sandbox_uid, self.sandbox_gid)
        # Probed once per executor; two concurrent first runs just probe twice.
        if self._checked:
            return
        outcome, started = await self._spawn(
            [self.python_real, "-I", "-S", "-c", "pass"],
            timeout_s=30.0,
            output_limit=64 * 1024,
        )
        if outcome.returncode != 0 or not started:
            detail = outcome.output.decode(errors="replace").strip()
            raise SandboxUnavailableError(
                f"bubblewrap cannot create the sandbox here (exit {outcome.returncode}: "
                f"{detail}); namespaces may be disabled (user.max_user_namespaces, "
                f"a container without CAP_SYS_ADMIN); {_INSTALL_HINT}",
                where=self.bwrap,
            )
        self._checked = True

    def _decode_returncode(self, returncode: int) -> tuple[int, str | None]:
        # bwrap reports a child killed by signal N as exit 128+N.
        if returncode > 128 and (name := signal_name(returncode - 128)) is not None:
            return returncode, name
        return super()._decode_returncode(returncode)

    async def _run_file(self, language: str, path: Path, output_limit: int) -> ProcessOutcome:
        outcome, started = await self._spawn(
            self._command(language, path),
            timeout_s=self.limits.timeout_s,
            output_limit=output_limit,
        )
        if not started and not outcome.timed_out:
            detail = outcome.output.decode(errors="replace").strip()
            raise CodeExecutionError(
                f"the sandbox did not start (exit {outcome.returncode}): {detail}",
                where=f"{self.bwrap} for {path}",
            )
        return outcome
