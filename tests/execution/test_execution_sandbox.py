"""Hostile code in the real bubblewrap sandbox: each attack is contained, reported, and the
executor (and the host) still work afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from execution_helpers import (
    assert_no_stray,
    assert_still_works,
    background_sleeper,
    new_marker,
    run,
)

from flowagents.execution import WORKSPACE, ExecutionLimits, SandboxExecutor


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxExecutor:
    return SandboxExecutor(tmp_path / "work", ExecutionLimits(timeout_s=2))


def test_python_and_shell_run_with_a_scrubbed_identity(sandbox: SandboxExecutor) -> None:
    result = run(
        sandbox,
        "import os, sys\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(os.getcwd(), os.environ['HOME'], sys.prefix)\n"
        "print(status['CapEff'].strip(), status['NoNewPrivs'].strip(), os.getuid())\n",
    )
    assert result.exit_code == 0, result.output
    cwd_line, caps_line = result.output.splitlines()
    assert cwd_line == f"{WORKSPACE} {WORKSPACE} {sys.prefix}"  # the caller's venv works inside
    cap_eff, no_new_privs, uid = caps_line.split()
    assert int(cap_eff, 16) == 0
    assert no_new_privs == "1"
    if os.geteuid() == 0:
        assert int(uid) == 65534
    shell = run(sandbox, "echo out; echo err >&2; exit 3", language="sh")
    assert (shell.exit_code, shell.output) == (3, "out\nerr\n")


def test_infinite_loop_times_out_and_kills_everything(sandbox: SandboxExecutor) -> None:
    marker = new_marker()
    result = run(
        sandbox, background_sleeper(marker) + "print('looping', flush=True)\nwhile True: pass\n"
    )
    assert result.timed_out
    assert result.exit_code == 124
    assert result.output == "looping\n"
    assert "timeout after 2 s" in result.to_agent_message()
    assert_no_stray(marker, result.blocks[0].code_file or "?")
    assert_still_works(sandbox)


def test_fork_bomb_hits_the_process_limit(tmp_path: Path) -> None:
    sandbox = SandboxExecutor(tmp_path, ExecutionLimits(timeout_s=2, max_processes=32))
    marker = new_marker()
    bomb = (
        f"# {marker}\n"
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError as e:\n"
        "        print('fork failed:', e.errno, flush=True)\n"
        "        time.sleep(300)\n"
    )
    result = run(sandbox, bomb)
    assert result.timed_out
    assert "fork failed: 11" in result.output  # EAGAIN: RLIMIT_NPROC, not the host, said no
    assert_no_stray(result.blocks[0].code_file or "?")
    assert_still_works(sandbox)


def test_allocating_8_gib_fails_with_memory_error(sandbox: SandboxExecutor) -> None:
    result = run(sandbox, "block = bytearray(8 * 1024**3)\nprint('allocated')")
    assert result.exit_code == 1
    assert "MemoryError" in result.output
    assert "allocated" not in result.output
    assert_still_works(sandbox)


def test_writing_2_gib_stops_at_the_file_size_limit(tmp_path: Path) -> None:
    limit = 8 << 20
    sandbox = SandboxExecutor(tmp_path / "work", ExecutionLimits(max_file_bytes=limit))
    python = run(
        sandbox,
        "with open('big', 'wb') as f:\n"
        "    for _ in range(2048):\n"
        "        f.write(bytes(1 << 20))\n",
    )
    assert python.exit_code == 1
    assert "File too large" in python.output
    assert (tmp_path / "work" / "big").stat().st_size <= limit
    shell = run(sandbox, "head -c 2G /dev/zero > big2\necho status $?", language="sh")
    assert "status 153" in shell.output  # 128 + SIGXFSZ: the kernel stopped head
    assert (tmp_path / "work" / "big2").stat().st_size <= limit
    assert_still_works(sandbox)


def test_printing_100_mb_is_drained_and_truncated(sandbox: SandboxExecutor) -> None:
    result = run(
        sandbox, "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1_000_000)\n"
    )
    assert result.exit_code == 0
    assert result.truncated
    kept = 1 << 20
    assert result.output == "x" * kept + (
        f"\n... [output truncated: 100000000 bytes, kept first {kept}]"
    )
    assert_still_works(sandbox)


def test_no_network_to_the_host_or_beyond(sandbox: SandboxExecutor) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        result = run(
            sandbox,
            "import socket\n"
            f"for host in ('127.0.0.1', '10.255.255.1'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=1)\n"
            "        print(host, 'CONNECTED')\n"
            "    except OSError as e:\n"
            "        print(host, 'failed', type(e).__name__)\n",
        )
        with pytest.raises(BlockingIOError):
            server.accept()
    assert result.output.splitlines() == [
        "127.0.0.1 failed ConnectionRefusedError",
        "10.255.255.1 failed OSError",  # ENETUNREACH: only loopback exists inside
    ]
    assert_still_works(sandbox)


def test_host_secrets_in_the_environment_are_absent(
    sandbox: SandboxExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    result = run(
        sandbox,
        "import os\n"
        "print(os.environ.get('OPENAI_API_KEY'))\n"
        "print(sorted(os.environ))\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try: print(open(f'/proc/{pid}/environ').read())\n"
        "        except OSError: pass\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "None"
    assert secret not in result.output
    assert "OPENAI_API_KEY" not in result.output


def test_writes_outside_the_work_dir_are_denied(sandbox: SandboxExecutor, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)
    name = f"fa_{uuid.uuid4().hex}"
    targets = ["/usr", "/etc", "/", str(outside), str(Path.home()), sys.prefix, "/tmp", "."]
    result = run(
        sandbox,
        f"for d in {targets!r}:\n"
        "    try:\n"
        f"        open(d + '/{name}', 'w').write('x')\n"
        "        print(d, 'written')\n"
        "    except OSError as e:\n"
        "        print(d, 'denied', type(e).__name__)\n",
    )
    lines = dict(line.split(" ", 1) for line in result.output.splitlines())
    for target in targets[:-2]:
        assert lines[target].startswith("denied"), (target, lines[target])
        assert not Path(target, name).exists()
    assert lines["/tmp"] == "written"  # a private tmpfs ...
    assert not Path("/tmp", name).exists()  # ... that is not the host's /tmp
    assert lines["."] == "written"
    assert (tmp_path / "work" / name).read_text() == "x"


def test_the_callers_home_is_not_visible(sandbox: SandboxExecutor) -> None:
    """Plant a secret file in the real home of the caller; the code must not find it."""
    secret = uuid.uuid4().hex
    planted = Path.home() / f".fa_secret_{secret}"
    planted.write_text(secret)
    try:
        result = run(
            sandbox,
            "import os\n"
            f"for path in ({str(planted)!r}, os.path.expanduser('~/{planted.name}')):\n"
            "    try:\n"
            "        print(open(path).read())\n"
            "    except OSError as e:\n"
            "        print(path, type(e).__name__)\n"
            f"print(os.path.exists({str(Path.home())!r} + '/.bashrc'))\n",
        )
    finally:
        planted.unlink()
    assert secret not in result.output.replace(planted.name, "")
    assert result.output.splitlines() == [
        f"{planted} FileNotFoundError",
        f"{WORKSPACE}/{planted.name} FileNotFoundError",
        "False",
    ]


_TIOCSTI_CODE = """
import fcntl, os, termios
try:
    fd = os.open("/dev/tty", os.O_RDWR)
except OSError as e:
    print("no controlling terminal", e.errno)
else:
    try:
        for ch in b"id\\n":
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        print("TIOCSTI injected")
    except OSError as e:
        print("TIOCSTI refused", e.errno)
"""

# Runs in a child that makes a new pty its controlling terminal, as a user's terminal is.
_TIOCSTI_HELPER = """
import asyncio, fcntl, json, os, struct, subprocess, sys, termios, tty
from flowagents.execution import CodeBlock, ExecutionLimits, SandboxExecutor
code, work_dir = sys.argv[1], sys.argv[2]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
tty.setraw(slave)
def pending():
    return struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\\0" * 4))[0]
sandbox = SandboxExecutor(work_dir, ExecutionLimits(timeout_s=20))
result = asyncio.run(sandbox.execute([CodeBlock(language="python", code=code)]))
after_sandbox = pending()
control = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
print(json.dumps({"sandbox": result.output, "after_sandbox": after_sandbox,
                  "control": control.stdout, "after_control": pending()}))
"""


def test_tiocsti_cannot_reach_the_callers_terminal(tmp_path: Path) -> None:
    """A helper process owns a pty as its controlling terminal (as an interactive user's
    shell does) and runs the sandbox from there. The sandboxed code finds no controlling
    terminal (``--new-session``), so nothing is pushed into the pty's input queue; the same
    code run as a plain child of the helper does inject, which shows the test can fail."""
    helper = subprocess.run(
        [sys.executable, "-c", _TIOCSTI_HELPER, _TIOCSTI_CODE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # the helper leads a session so it can take the pty
        check=True,
    )
    report = json.loads(helper.stdout)
    assert report["sandbox"].startswith("no controlling terminal 6")  # ENXIO
    assert report["after_sandbox"] == 0
    legacy = Path("/proc/sys/dev/tty/legacy_tiocsti")
    if os.geteuid() == 0 or not legacy.exists() or legacy.read_text().strip() == "1":
        assert report["control"] == "TIOCSTI injected\n"
        assert report["after_control"] == 3


def test_a_planted_symlink_does_not_redirect_the_next_code_file(
    sandbox: SandboxExecutor, tmp_path: Path
) -> None:
    """Code files have predictable names in a dir the code can write: code that swaps the
    next one for a symlink must not make the host write (as the caller) through it."""
    victim = tmp_path / "victim"
    victim.write_text("host secret\n")
    victim.chmod(0o600)
    payload = "echo second run"
    first = run(sandbox, payload, language="sh")
    name = first.blocks[0].code_file
    assert name is not None
    planted = run(sandbox, f"import os\nos.remove({name!r})\nos.symlink({str(victim)!r}, {name!r})")
    assert planted.exit_code == 0, planted.output
    again = run(sandbox, payload, language="sh")
    assert (again.exit_code, again.output) == (0, "second run\n")
    assert victim.read_text() == "host secret\n"
    assert victim.stat().st_mode & 0o777 == 0o600
    code_file = sandbox.work_dir / name
    assert not code_file.is_symlink()
    assert code_file.read_text() == payload + "\n"


@pytest.mark.timeout(30)
def test_a_planted_fifo_does_not_block_the_host(sandbox: SandboxExecutor) -> None:
    """Opening a FIFO for writing blocks until a reader comes: the host must not open
    whatever the code left at the next code file's name."""
    payload = "echo after the fifo"
    name = run(sandbox, payload, language="sh").blocks[0].code_file
    planted = run(sandbox, f"import os\nos.remove({name!r})\nos.mkfifo({name!r})")
    assert planted.exit_code == 0, planted.output
    again = run(sandbox, payload, language="sh")
    assert (again.exit_code, again.output) == (0, "after the fifo\n")
    assert (sandbox.work_dir / f"{name}").read_text() == payload + "\n"


def test_a_planted_directory_is_a_failed_block_not_a_crash(sandbox: SandboxExecutor) -> None:
    """Code that leaves a directory at the next code file's name breaks its own next block:
    that block fails with the reason, and the executor goes on working."""
    payload = "echo after the directory"
    name = run(sandbox, payload, language="sh").blocks[0].code_file
    planted = run(sandbox, f"import os\nos.remove({name!r})\nos.mkdir({name!r})")
    assert planted.exit_code == 0, planted.output
    again = run(sandbox, payload, language="sh")
    assert again.exit_code == 1
    assert again.output == f"cannot write the code file {name}: Is a directory"
    assert_still_works(sandbox)


def test_only_the_public_part_of_etc_ssl_is_visible(sandbox: SandboxExecutor) -> None:
    """Certificates and the OpenSSL config, not ``/etc/ssl/private`` (host TLS keys, readable
    by the ``ssl-cert`` group, which the caller's uid may be in); HTTPS still verifies."""
    result = run(
        sandbox,
        "import json, os, ssl\n"
        "print(json.dumps(os.listdir('/etc/ssl')))\n"
        "print(len(ssl.create_default_context().get_ca_certs()) > 0)\n",
    )
    assert result.exit_code == 0, result.output
    listing, has_certs = result.output.splitlines()
    assert set(json.loads(listing)) <= {"certs", "openssl.cnf"}
    assert has_certs == "True"


_KEYRING_CODE = """
import ctypes
keyutils = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
key = keyutils.request_key(b"user", b"fa_test_secret", None, 0)
if key < 0:
    print("no key", ctypes.get_errno())
else:
    buf = ctypes.create_string_buffer(256)
    size = keyutils.keyctl_read(key, buf, 256)
    print("read", buf.raw[:size].decode())
"""

# Runs in a child with a session keyring of its own, holding a secret, as a user's login
# session keyring holds Kerberos tickets or other credentials.
_KEYRING_HELPER = """
import asyncio, ctypes, json, subprocess, sys
from flowagents.execution import CodeBlock, ExecutionLimits, SandboxExecutor
code, work_dir, secret = sys.argv[1:4]
keyutils = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
assert keyutils.keyctl_join_session_keyring(None) > 0
assert keyutils.add_key(b"user", b"fa_test_secret", secret.encode(), len(secret), -3) > 0
sandbox = SandboxExecutor(work_dir, ExecutionLimits(timeout_s=20))
result = asyncio.run(sandbox.execute([CodeBlock(language="python", code=code)]))
control = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
print(json.dumps({"sandbox": result.output, "control": control.stdout}))
"""


def test_the_callers_session_keyring_is_out_of_reach(tmp_path: Path) -> None:
    """Keys in the caller's session keyring are readable by any process that inherits it,
    whatever its uid. The sandboxed code finds no key; the same code run as a plain child of
    the helper reads it, which shows the test can fail."""
    secret = f"sk-keyring-{uuid.uuid4().hex}"
    helper = subprocess.run(
        [sys.executable, "-c", _KEYRING_HELPER, _KEYRING_CODE, str(tmp_path), secret],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(helper.stdout)
    assert report["control"] == f"read {secret}\n"
    assert secret not in report["sandbox"]
    assert report["sandbox"] == "no key 126\n"  # ENOKEY


def test_the_private_tmp_is_limited(tmp_path: Path) -> None:
    """/tmp is a tmpfs: host memory that RLIMIT_AS does not count (half the RAM by default)."""
    sandbox = SandboxExecutor(tmp_path / "work", ExecutionLimits(tmp_bytes=4 << 20))
    result = run(
        sandbox,
        "head -c 3M /dev/zero > /tmp/a; echo first $?\n"
        "head -c 3M /dev/zero > /tmp/b; echo second $?\n",
        language="sh",
    )
    lines = result.output.splitlines()
    assert lines[0] == "first 0"
    assert lines[-1] == "second 1"
    assert "No space left on device" in result.output
    assert_still_works(sandbox)
