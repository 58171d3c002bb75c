"""A bubblewrap sandbox for the kernels that run students' notebooks.

Each submission's kernel runs in its own sandbox (``bwrap``, Debian package
``bubblewrap``), built fresh for that kernel:

- an unprivileged user (a uid of its own when the grader runs as root);
- its own PID, network, IPC and UTS namespaces and a new session: no network,
  and no way to see or signal the grading process;
- read-only: the Python runtime (``sys.prefix``, the base interpreter, the
  installed packages) and the ``lstmlib`` package; nothing else of the machine.
  The gradebook, ``solutions/``, ``tests/``, the grading secret and other
  students' files are simply not there; nor is ipykernel's debugger (``debugpy``);
- writable: only size-limited tmpfs, in memory: a private home holding a copy of
  the submission's folder (the kernel's working directory), ``/tmp``, and
  ``/ipc`` for the kernel's sockets; nothing on the grader's disk;
- limits on memory, processes, file size and open files (``prlimit``).

The kernel talks to the grader over Unix sockets (ZeroMQ's ``ipc`` transport), so
there is no TCP port to race for. The kernel creates them in its own ``/ipc``;
the grader reaches them through ``/proc/<pid>/root/ipc`` (the sandbox's root, seen
from outside), with the pid bwrap reports. The grader's sockets refuse messages
above ``MAX_MESSAGE_BYTES``, so a kernel cannot flood its memory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

import lstmlib

# No single kernel message (an output, a reply) may be larger than this.
MAX_MESSAGE_BYTES = 16 * 2**20
HOME = "/home/student"
WORKDIR = f"{HOME}/work"
SUBMISSION = "/submission"
IPC = "/ipc"  # the kernel's sockets, inside the sandbox
# lstmlib's modules that hold answers to exercises: out of the kernel's reach.
REFERENCE_MODULES = (
    "scratch",
    "nn",
    "forecasting",
    "language_model",
    "sampling",
    "seq2seq",
    "ctc",
)
# Installed packages no grading kernel gets: ipykernel goes without its debugger.
NO_DEBUGGER = ("debugpy",)


class SandboxUnavailable(RuntimeError):
    """Grading cannot be sandboxed here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel."""

    memory_bytes: int = 6 * 2**30  # address space; torch reserves a lot of it
    processes: int = 512  # processes and threads of the sandbox's user
    file_bytes: int = 16 * 2**20  # largest file it may write (its log included)
    open_files: int = 1024
    tmpfs_bytes: int = 256 * 2**20  # each of its home and /tmp


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _ancestors(paths) -> list[str]:
    """Every proper ancestor folder of ``paths``, parents first."""
    found = set()
    for path in paths:
        for parent in Path(path).parents:
            if str(parent) != "/":
                found.add(str(parent))
    return sorted(found, key=lambda p: (p.count("/"), p))


def runtime_paths() -> list[str]:
    """Folders the kernel needs to read: Python, its packages, and lstmlib."""
    # Not sys.path as a whole: run from the repository, it holds the repository itself.
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates |= set(site.getsitepackages())
    candidates.add(str(Path(lstmlib.__file__).resolve().parent))
    candidates.add(str(Path(sys.executable).resolve().parent.parent))
    existing = sorted(p for p in candidates if os.path.isdir(p))
    # Drop folders inside another one in the list, and the system folders bound anyway.
    kept = []
    for path in existing:
        if path.startswith(("/usr/", "/proc/", "/dev/")) or path == "/usr":
            continue
        if any(path.startswith(k.rstrip("/") + "/") for k in kept):
            continue
        kept.append(path)
    return kept


def installed_paths(packages) -> list[str]:
    """Where the installed top-level ``packages`` live: a package's folder or a module's file.

    Found without importing them (importing torch alone takes seconds); those not
    installed are skipped.
    """
    paths = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            paths += [str(Path(p).resolve()) for p in spec.submodule_search_locations]
        elif spec.origin:
            paths.append(str(Path(spec.origin).resolve()))
    return paths


def sandbox_uid(key: str) -> int:
    """An unprivileged uid of its own for each concurrent kernel (when we are root)."""
    return 200_000 + zlib.crc32(key.encode()) % 100_000


def bwrap_command(
    command: list[str],
    *,
    submission: str,
    channel: str,
    env: dict[str, str],
    limits: Limits,
    uid: int | None,
    oracle: str | None = None,
    library: tuple[str, ...] = (),
    judge_only: tuple[str, ...] = (),
    withheld: tuple[str, ...] = (),
    info_fd: int | None = None,
) -> list[str]:
    """``command`` wrapped so that it runs in a fresh sandbox.

    Args:
        command: the kernel's command line (``python -m ipykernel_launcher -f ...``).
        submission: the submission's folder, copied into the kernel's working directory.
        channel: the grader's folder for this kernel (connection file), shared read-only.
        env: the kernel's whole environment.
        limits: resource limits.
        uid: with the grader running as root, the unprivileged uid to run as; None
            when the grader is itself unprivileged (bwrap then maps it in a user
            namespace).
        oracle: the folder of the grader's reference socket, shared read-only.
        library: those of lstmlib's ``REFERENCE_MODULES`` the kernel may import; the
            others are replaced by ``lstmlib.grading.unavailable``.
        judge_only: modules of ``lstmlib.grading.assignments`` to replace likewise.
        withheld: installed packages the kernel may not import (e.g. ``("torch",)``, for
            an exercise whose answer torch computes): each is replaced by
            ``lstmlib.grading.withheld``, so neither importing nor reading it works.
        info_fd: a file descriptor to which bwrap writes the sandbox's pid (JSON).
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bwrap is not installed (Debian: apt-get install bubblewrap).")
    runtime = runtime_paths()
    args = [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--new-session",
        "--die-with-parent",
        "--hostname",
        "sandbox",
    ]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    if uid is None:
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    else:
        # Root sets up the mounts; setpriv (below) then drops to the unprivileged uid.
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    # The tmpfs first: whatever lives under /tmp (a repository, a venv) is bound after.
    # Folders are made 0755, which bwrap would otherwise make root-only (0700).
    for folder in _ancestors([HOME]):
        args += ["--perms", "0755", "--dir", folder]
    args += ["--size", str(limits.tmpfs_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--size", str(limits.tmpfs_bytes), "--perms", "0777", "--tmpfs", HOME]
    for folder in _ancestors(runtime):
        args += ["--perms", "0755", "--dir", folder]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{name}"):
            args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "alternatives"):
        if os.path.exists(f"/etc/{etc}"):
            args += ["--ro-bind", f"/etc/{etc}", f"/etc/{etc}"]
    for path in runtime:
        args += ["--ro-bind", path, path]
    package = Path(lstmlib.__file__).resolve().parent
    unavailable = package / "grading" / "unavailable"
    for hidden in sorted(set(REFERENCE_MODULES) - set(library)):
        if (package / hidden).is_dir():
            args += ["--ro-bind", str(unavailable), str(package / hidden)]
        else:
            args += ["--ro-bind", str(unavailable / "__init__.py"), str(package / f"{hidden}.py")]
    for module in judge_only:
        target = package / "grading" / "assignments" / f"{module}.py"
        args += ["--ro-bind", str(unavailable / "__init__.py"), str(target)]
    for folder, packages in [("withheld", withheld), ("no_debugger", NO_DEBUGGER)]:
        stand_in = package / "grading" / folder
        for path in installed_paths(packages):
            if os.path.isdir(path):
                args += ["--ro-bind", str(stand_in), path]
            else:
                args += ["--ro-bind", str(stand_in / "__init__.py"), path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--ro-bind", submission, SUBMISSION]
    for folder in _ancestors([channel]):
        args += ["--perms", "0755", "--dir", folder]
    args += ["--size", str(16 * 2**20), "--perms", "1777", "--tmpfs", IPC]
    args += ["--ro-bind", channel, channel]
    if oracle is not None:
        for folder in _ancestors([oracle]):
            args += ["--perms", "0755", "--dir", folder]
        args += ["--ro-bind", oracle, oracle]
    args += ["--chdir", HOME, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--"]
    if uid is not None:
        args += [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    # The working directory: a private, writable copy of the submission's folder.
    copy = f'mkdir -p {WORKDIR} && cp -r {SUBMISSION}/. {WORKDIR}/ && cd {WORKDIR} && exec "$@"'
    return [*args, "/bin/sh", "-c", copy, "sandboxed-kernel", *command]


def _read_child_pid(fd: int, timeout: float = 30) -> int:
    """The pid of the sandbox's first process, from bwrap's ``--info-fd`` JSON."""
    import json
    import select

    data = b""
    try:
        while select.select([fd], [], [], timeout)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError) as error:
        raise SandboxUnavailable(f"bwrap did not report its sandbox ({error})") from None


def private_copy(folder: str, destination: str, uid: int | None) -> str:
    """A copy of ``folder`` that the sandbox's user can read (symbolic links stay links)."""
    shutil.copytree(folder, destination, symlinks=True)
    if uid is not None:
        for parent, dirs, files in os.walk(destination):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(parent, name), uid, uid)
        os.chown(destination, uid, uid)
    return destination


def kernel_env(extra: dict[str, str]) -> dict[str, str]:
    """The whole environment of a sandboxed kernel: nothing of the grader's leaks in."""
    env = {
        "HOME": HOME,
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Several kernels grade at once on few cores: one thread each.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # lstmlib.nn's Python loops, not its compiled ones: building those (about 15 s)
        # in the sandbox's empty home would come out of every student's time limit, and
        # the Python loops give the same numbers, bit for bit.
        "LSTMLIB_COMPILED_LOOPS": "0",
    }
    # The kernel imports the lstmlib the grader runs and binds in (a checkout on the
    # grader's PYTHONPATH, say), not the copy an editable install's finder points to,
    # which the sandbox does not have.
    package_root = str(Path(lstmlib.__file__).resolve().parent.parent)
    if package_root not in site.getsitepackages():
        env["PYTHONPATH"] = package_root
    env.update(extra)
    return env


class SandboxedKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as its kernel is.

    jupyter_client's ``wait_for_ready`` ends by reading IOPub until 0.2 s pass without
    a message: a fifth of a second idle at every kernel start, a sixth of a
    submission's grading time. This one waits for the reply to ``kernel_info`` and for
    IOPub to carry a message (so that no output of the first cell is missed), then
    drops what IOPub already holds without waiting for more.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        replied = False
        while True:
            if not replied:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        self._handle_kernel_info_reply(msg)
                        replied = True
            if replied:
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)
                    break
                except Empty:  # IOPub not connected yet: ask again, so that it speaks
                    replied = False
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                return


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts its kernel in a bubblewrap sandbox over IPC sockets.

    Set ``channel`` (an empty folder for the sockets), ``submission`` (the folder
    to copy in), ``kernel_environment`` and ``limits`` before starting it.
    """

    client_factory = Type(SandboxedKernelClient, klass=AsyncKernelClient)
    channel: str = ""
    submission: str = ""
    kernel_environment: dict[str, str] = {}
    limits: Limits = Limits()

    sandboxed: bool = True
    oracle: str | None = None
    library: tuple[str, ...] = ()
    judge_only: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()

    def prepare(
        self,
        *,
        channel: str,
        submission: str,
        environment: dict,
        limits: Limits,
        sandboxed=True,
        oracle: str | None = None,
        library: tuple[str, ...] = (),
        judge_only: tuple[str, ...] = (),
        withheld: tuple[str, ...] = (),
    ):
        self.sandboxed = sandboxed
        self.withheld = withheld
        self.oracle = oracle
        self.library = library
        self.judge_only = judge_only
        self.channel = channel
        self.submission = submission
        self.kernel_environment = environment
        self.limits = limits
        self.transport = "ipc"
        self.ip = os.path.join(channel, "kernel")
        self.connection_file = os.path.join(channel, "kernel.json")
        self._uid = sandbox_uid(channel) if os.geteuid() == 0 and sandboxed else None
        if sandboxed:
            self.submission = private_copy(
                submission, os.path.join(channel, "submission"), self._uid
            )
            os.chmod(channel, 0o755)  # readable, never writable, by the kernel
            self.ip = f"{IPC}/kernel"  # as the kernel sees it; see _async_launch_kernel
        # A message above this size makes ZeroMQ drop the connection instead of buffering it.
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)

    async def _async_finish_shutdown(self, waittime=None, pollinterval=0.01, restart=False):
        # jupyter_client looks whether the kernel has exited every 0.1 s, idling 50 ms
        # on average after every notebook; looking every 10 ms costs next to nothing.
        await super()._async_finish_shutdown(waittime, pollinterval, restart)

    @property
    def log_path(self) -> str:
        return os.path.join(self.channel, "kernel.log")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return Path(self.log_path).read_bytes()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self._uid is not None:
            os.chown(self.connection_file, self._uid, self._uid)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # The kernel's own stdout and stderr (not its cells' output) go to a log beside
        # its sockets, which says why a kernel that does not start failed.
        kw["stdin"] = subprocess.DEVNULL
        kw["stdout"] = kw["stderr"] = open(self.log_path, "ab")  # noqa: SIM115
        if not self.sandboxed:
            kw["env"] = {
                **os.environ,
                **self.kernel_environment,
                "HOME": os.environ.get("HOME", ""),
            }
            await super()._async_launch_kernel(kernel_cmd, **kw)
            return
        # The sandbox sets the working directory and the environment itself.
        kw.pop("cwd", None)
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.kernel_spec.interrupt_mode = "message"  # signals cannot cross the new session
        info_read, info_write = os.pipe()
        command = bwrap_command(
            kernel_cmd,
            submission=self.submission,
            channel=self.channel,
            env=self.kernel_environment,
            limits=self.limits,
            uid=self._uid,
            oracle=self.oracle,
            library=self.library,
            judge_only=self.judge_only,
            withheld=self.withheld,
            info_fd=info_write,
        )
        kw["pass_fds"] = (info_write,)
        try:
            await super()._async_launch_kernel(command, **kw)
        finally:
            os.close(info_write)
        pid = _read_child_pid(info_read)
        # The kernel's sockets, seen from outside the sandbox.
        self.ip = f"/proc/{pid}/root{IPC}/kernel"


_checked = False


def check_sandbox() -> None:
    """Start a trivial sandbox (once per process); raise ``SandboxUnavailable`` saying why
    it fails."""
    import tempfile

    global _checked
    if _checked:
        return

    with tempfile.TemporaryDirectory() as channel, tempfile.TemporaryDirectory() as empty:
        uid = sandbox_uid(channel) if os.geteuid() == 0 else None
        sub = private_copy(empty, os.path.join(channel, "submission"), uid)
        os.chmod(channel, 0o755)
        try:
            command = bwrap_command(
                [sys.executable, "-c", "import lstmlib"],
                submission=sub,
                channel=channel,
                env=kernel_env({}),
                limits=Limits(),
                uid=uid,
            )
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SandboxUnavailable(f"the sandbox could not start: {error}") from None
        if result.returncode != 0:
            raise SandboxUnavailable(
                f"the sandbox could not start (exit {result.returncode}): {result.stderr.strip()}"
            )
    _checked = True
