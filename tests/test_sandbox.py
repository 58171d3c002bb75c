"""The grading sandbox, tried from inside: what a student's code can reach and what it cannot.

These tests fail (never skip) where bubblewrap is missing: grading needs it, and
`make test` installs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest
from cases_04_gru import POINTS as POINTS_04
from nbgrader_harness import auto_scores, nbgrader, release, solved, submit

from lstmlib.grading import sandbox
from lstmlib.grading.execute import ORACLE_SOCKET, channels_folder
from lstmlib.grading.oracle import OracleServer

REPO = Path(__file__).resolve().parent.parent


def run_sandboxed(tmp_path, code: str, library=(), withheld=(), **limits) -> dict:
    """Run ``code`` in a fresh sandbox; it prints one JSON object, which is returned."""
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "data.txt").write_text("the student's own file")
    channel = tmp_path / "channel"
    channel.mkdir(exist_ok=True)
    uid = sandbox.sandbox_uid(str(channel)) if os.geteuid() == 0 else None
    copy = sandbox.private_copy(str(submission), str(channel / "copy"), uid)
    if uid is not None:
        os.chown(channel, uid, uid)
    command = sandbox.bwrap_command(
        [sys.executable, "-c", textwrap.dedent(code)],
        submission=copy,
        channel=str(channel),
        env=sandbox.kernel_env({}),
        limits=sandbox.Limits(**limits),
        uid=uid,
        library=library,
        withheld=withheld,
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bubblewrap_is_installed_and_starts():
    assert sandbox.bwrap_path(), "bubblewrap is missing: `make test` installs it"
    sandbox.check_sandbox()


def test_the_kernel_runs_unprivileged_alone_and_offline(tmp_path):
    seen = run_sandboxed(
        tmp_path,
        """
        import json, os, socket
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=2)
            network = "connected"
        except OSError as error:
            network = type(error).__name__
        print(json.dumps({
            "uid": os.getuid(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "cwd": os.getcwd(),
            "files": sorted(os.listdir(".")),
            "network": network,
        }))
        """,
    )
    assert seen["uid"] != 0
    assert max(seen["pids"]) < 10, "the grader's processes are visible"
    assert seen["cwd"] == sandbox.WORKDIR and seen["files"] == ["data.txt"]
    assert seen["network"] != "connected"


def test_the_repository_and_the_reference_are_out_of_reach(tmp_path):
    seen = run_sandboxed(
        tmp_path,
        f"""
        import json, os, lstmlib
        package = os.path.dirname(lstmlib.__file__)
        outcome = {{}}
        for name in {sandbox.REFERENCE_MODULES + ("words", "ngram")!r}:
            try:
                __import__("lstmlib." + name)
                outcome[name] = "imported"
            except ImportError as error:
                outcome[name] = str(error)
        outcome["repo"] = os.path.exists({str(REPO / "solutions")!r})
        outcome["tests"] = os.path.exists({str(REPO / "tests")!r})
        try:
            open(os.path.join(package, "grading", "spec.py"), "a").write("# changed")
            outcome["write"] = "written"
        except OSError as error:
            outcome["write"] = type(error).__name__
        print(json.dumps(outcome))
        """,
    )
    assert "not available while your notebook is graded" in seen["scratch"]
    for name in sandbox.REFERENCE_MODULES:
        assert "not available" in seen[name], name
    # The data utilities and baselines that exercises give their students stay there.
    assert seen["words"] == seen["ngram"] == "imported"
    assert seen["repo"] is False and seen["tests"] is False
    assert seen["write"] in ("OSError", "PermissionError")


def test_an_exercise_may_be_given_a_library(tmp_path):
    seen = run_sandboxed(
        tmp_path,
        """
        import json
        from lstmlib.nn import LSTM
        print(json.dumps({"nn": LSTM.__name__}))
        """,
        library=("nn",),
    )
    assert seen == {"nn": "LSTM"}


def test_an_exercise_may_go_without_an_installed_package(tmp_path):
    # Exercise 10 asks for CTC's forward algorithm, which torch (and keras) implement.
    (torch_dir,) = sandbox.installed_paths(["torch"])
    seen = run_sandboxed(
        tmp_path,
        f"""
        import json, os
        outcome = {{}}
        for name in ("torch", "torch.nn.functional", "keras", "functorch"):
            try:
                __import__(name)
                outcome[name] = "imported"
            except ImportError as error:
                outcome[name] = str(error)
        import numpy, scipy.special
        outcome["files"] = sorted(os.listdir({torch_dir!r}))
        print(json.dumps(outcome))
        """,
        withheld=("torch", "keras"),
    )
    assert "torch is not available while this exercise is graded" in seen["torch"]
    assert "not available" in seen["torch.nn.functional"] and "not available" in seen["keras"]
    assert seen["functorch"] != "imported"
    assert seen["files"] == ["__init__.py"]  # torch's own files cannot be read either
    assert sandbox.installed_paths(["no_such_package_here"]) == []


def test_kernels_go_without_a_debugger(tmp_path):
    seen = run_sandboxed(
        tmp_path,
        """
        import json
        try:
            import debugpy
            outcome = "imported"
        except ImportError as error:
            outcome = str(error)
        from ipykernel.debugger import _is_debugpy_available
        print(json.dumps({"debugpy": outcome, "debugger": _is_debugpy_available}))
        """,
    )
    assert seen == {
        "debugpy": "The grading sandbox runs kernels without a debugger.",
        "debugger": False,
    }


def test_a_started_kernel_misses_no_output_of_its_first_cell(tmp_path):
    # The client is ready once IOPub carries a message, not 0.2 s of silence later.
    async def first_output(channel):
        km = sandbox.SandboxedKernelManager(kernel_name="python3")
        km.prepare(
            channel=str(channel),
            submission=str(submission),
            environment=sandbox.kernel_env({}),
            limits=sandbox.Limits(),
        )
        await km.start_kernel()
        client = km.client()
        assert isinstance(client, sandbox.SandboxedKernelClient)  # the one under test
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            outputs = []
            await client.execute_interactive(
                "print('first')", timeout=60, output_hook=outputs.append
            )
            return [m["content"].get("text") for m in outputs if m["msg_type"] == "stream"]
        finally:
            client.stop_channels()
            await km.shutdown_kernel(now=True)

    submission = tmp_path / "submission"
    submission.mkdir()
    for attempt in range(3):
        channel = tmp_path / f"channel-{attempt}"
        channel.mkdir()
        assert asyncio.run(first_output(channel)) == ["first\n"]


def test_memory_and_processes_are_limited(tmp_path):
    seen = run_sandboxed(
        tmp_path,
        """
        import json, os
        outcome = {}
        try:
            block = bytearray(3 * 2**30)
            outcome["memory"] = "allocated"
        except MemoryError:
            outcome["memory"] = "MemoryError"
        children = []
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    import time
                    time.sleep(5)
                    os._exit(0)
                children.append(pid)
            outcome["fork"] = "unlimited"
        except OSError as error:
            outcome["fork"] = type(error).__name__
        print(json.dumps(outcome))
        """,
        memory_bytes=2 * 2**30,
        processes=50,
    )
    assert seen == {"memory": "MemoryError", "fork": "BlockingIOError"}


@pytest.mark.slow
def test_without_bubblewrap_grading_stops_unless_the_instructor_opts_out(tmp_path):
    released = nbformat.read(release(tmp_path, "04-gru") / "04-gru.ipynb", as_version=4)
    solution = nbformat.read(REPO / "solutions/04-gru/04-gru.ipynb", as_version=4)
    submit(tmp_path, "04-gru", "student", solved(released, solution), "04-gru")
    no_bwrap = {"PATH": str(Path(sys.executable).parent)}  # bwrap is in /usr/bin

    refused = nbgrader(tmp_path, "autograde", "04-gru", env=no_bwrap)
    assert "Not grading: bwrap is not installed" in refused.stdout + refused.stderr
    assert auto_scores(tmp_path, "04-gru")["student"] == dict.fromkeys(POINTS_04, None)

    opted_out = nbgrader(
        tmp_path,
        "autograde",
        "04-gru",
        "--force",
        "--SandboxedExecute.unsandboxed=True",
        env=no_bwrap,
    )
    assert opted_out.returncode == 0, opted_out.stderr[-2000:]
    assert sum(auto_scores(tmp_path, "04-gru")["student"].values()) == sum(POINTS_04.values())


def test_the_runtime_is_bound_wherever_it_lives():
    # A clone under /tmp once lost its virtualenv to the sandbox's own /tmp.
    bound = sandbox.runtime_paths()
    for needed in (sys.prefix, str(Path(sandbox.lstmlib.__file__).resolve().parent)):
        assert any(needed == p or needed.startswith(p.rstrip("/") + "/") for p in bound), needed


def test_a_long_tmpdir_still_leaves_room_for_the_oracles_socket(tmp_path, monkeypatch):
    # A Unix socket's path holds 107 bytes; under a deep TMPDIR (a CI runner's, or
    # pytest-xdist's) binding the oracle's socket failed, and with it every submission.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    folder = channels_folder()
    try:
        socket_path = os.path.join(folder, ORACLE_SOCKET)
        os.mkdir(os.path.dirname(socket_path))
        server = OracleServer(socket_path)  # binds, or raises
        server.close()
        assert not folder.startswith(str(deep))
    finally:
        shutil.rmtree(folder)
