"""Build ``loops.cpp`` once per machine and load it as ``torch.ops.lstmlib``.

``load()`` is what ``lstmlib.nn.loops.active()`` calls. The first time on a machine it
compiles ``loops.cpp`` against the installed torch (about 15 s, with the C++ compiler
that torch's extensions need) and keeps the library in torch's extension folder
(``$TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``), under a name
that changes with the source, the torch version and the Python version; every later
process only loads it. If it cannot be built (no compiler, say), it warns once and
``bptt`` runs the Python loops of ``lstmlib.nn.loops``: the same numbers, slower.

``LSTMLIB_COMPILED_LOOPS=0`` in the environment turns the compiled loops off (the
grading sandbox does, so that no student's time limit pays for a compile).

Each process compiles in a folder of its own and moves the finished library into place
in one step (``os.replace``), so processes that start at once (the book's parallel
build, pytest's workers) can each build it without a lock, and a build that is killed
leaves nothing half-written behind. ``python -m lstmlib.nn.compile_loops`` builds it
and says where it is (``make`` runs it after installing).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("loops.cpp")
NAME = "lstmlib_loops"


def library_path() -> Path:
    """Where the built library of this source, torch and Python lives."""
    from torch.utils.cpp_extension import get_default_build_root

    key = f"{SOURCE.read_text()}\0{torch.__version__}\0{sys.version}\0{platform.machine()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    return Path(root) / NAME / digest / f"{NAME}.so"


def build_and_load(target: Path) -> None:
    """Compile ``loops.cpp`` into ``target`` and load it into this process. (CPU code:
    the loops only call ATen operators, so the same library drives CUDA tensors too.)"""
    from torch.utils.cpp_extension import load

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="build-") as folder:
        load(
            NAME,
            [str(SOURCE)],
            build_directory=folder,
            is_python_module=False,  # a library of operators: torch loads it
            extra_cflags=["-O2"],
            verbose=False,
        )
        os.replace(Path(folder) / f"{NAME}.so", target)


@functools.cache
def load(retry=False):
    """``torch.ops.lstmlib``, built if need be; None if turned off or not buildable.

    A failed build leaves a note beside the library's place, so that later processes
    (every chapter, every test worker) fall back at once instead of failing again;
    ``retry=True`` (``python -m lstmlib.nn.compile_loops``) tries anew."""
    if os.environ.get("LSTMLIB_COMPILED_LOOPS", "1") == "0":
        return None
    target = library_path()
    failed = target.with_name("build-failed.txt")
    try:
        if target.exists():
            torch.ops.load_library(str(target))
        elif failed.exists() and not retry:
            raise RuntimeError(failed.read_text())
        else:
            build_and_load(target)
    except Exception as error:  # noqa: BLE001 - any failure means: run the Python loops
        lines = str(error).strip().splitlines() or [type(error).__name__]
        reason = next((line for line in lines if "error:" in line), lines[0])
        with contextlib.suppress(OSError):
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.write_text(reason)
        warnings.warn(
            f"lstmlib.nn: could not build the compiled loops ({reason}); running the Python "
            "loops instead (the same results, slower at small sizes). "
            "`python -m lstmlib.nn.compile_loops` tries again.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    failed.unlink(missing_ok=True)
    return torch.ops.lstmlib


def main() -> int:
    if load(retry=True) is None:  # load() has said why
        print("lstmlib.nn: running the Python loops", file=sys.stderr)
    else:
        print(f"lstmlib.nn: compiled loops in {library_path()}")
    return 0


__all__ = ["build_and_load", "library_path", "load"]

if __name__ == "__main__":
    sys.exit(main())
