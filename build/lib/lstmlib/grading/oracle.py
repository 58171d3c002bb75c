"""The course's reference functions, for a kernel that must not hold them.

While a notebook is graded, its kernel has no ``lstmlib.scratch`` or
``lstmlib.nn`` (the sandbox hides them): code that could compute the right
answers would let a student's code report them as its own. Some tests still
need reference functions in the kernel: the reference version of an earlier
part standing in for the student's (``rnn_step_forward`` while ``rnn_forward``
is tested), a cache made by the reference forward pass, the forward pass that
an exercise gives its students. ``reference(name)`` returns such a function:

- in a student's own session, the function itself, from ``lstmlib.scratch``;
- in the grading sandbox, a proxy that sends its arguments to the grader over
  a Unix socket (``OracleServer``, in the grading process) and returns the
  reference's result. The grader answers only the functions that the cell now
  running may use: the test's stand-ins and the exercise's given helpers.

Arguments and results travel as JSON (``encode``, ``decode``): arrays and torch
tensors with their dtype, tuples, lists, numbers and strings, nothing that could
run code.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading

import numpy as np

ORACLE_ENV = "LSTM_COURSE_ORACLE"
MAX_MESSAGE_BYTES = 16 * 2**20
MAX_VALUES = 500_000
DTYPES = ("float64", "float32", "int64", "int32", "uint8", "bool")


class OracleError(RuntimeError):
    """The grader refused or failed a reference call; the message says why."""


# --- the wire format -------------------------------------------------------------


def _encode_array(array: np.ndarray) -> list:
    if array.dtype.name not in DTYPES:
        array = array.astype(np.float64)
    return [array.dtype.name, list(array.shape), array.ravel().tolist()]


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")  # never imported here: only a kernel that has it
    return torch is not None and isinstance(value, torch.Tensor)


def encode(value):
    """``value`` (arrays, torch tensors, tuples, lists, numbers, strings, None) as
    JSON-ready data. A tensor travels as its values and comes back as a CPU tensor."""
    if isinstance(value, np.ndarray | np.generic):
        return {"array": _encode_array(np.asarray(value))}
    if _is_tensor(value):
        return {"tensor": _encode_array(value.detach().cpu().numpy())}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return {"list": [encode(v) for v in value]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a {type(value).__name__} cannot be sent to the grader")


def decode(data, budget=None):
    """The inverse of ``encode``, refusing anything else (``ValueError``)."""
    budget = [MAX_VALUES] if budget is None else budget
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError("not an encoded value")
    ((kind, body),) = data.items()
    if kind in ("tuple", "list") and isinstance(body, list):
        items = [decode(v, budget) for v in body]
        return tuple(items) if kind == "tuple" else items
    if kind in ("array", "tensor") and isinstance(body, list) and len(body) == 3:
        dtype, shape, values = body
        ok_shape = isinstance(shape, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        )
        if dtype not in DTYPES or not ok_shape or not isinstance(values, list):
            raise ValueError("bad array")
        budget[0] -= len(values)
        if budget[0] < 0 or len(values) != int(np.prod(shape, dtype=np.int64)):
            raise ValueError("bad array size")
        if not all(isinstance(v, bool | int | float) for v in values):
            raise ValueError("bad array values")
        array = np.array(values, dtype=dtype).reshape(shape)
        if kind == "tensor":
            import torch

            return torch.from_numpy(array)
        return array
    raise ValueError("not an encoded value")


def _send(sock, document) -> None:
    body = json.dumps(document).encode()
    sock.sendall(struct.pack(">Q", len(body)) + body)


def _receive(sock):
    header = _read_exactly(sock, 8)
    (length,) = struct.unpack(">Q", header)
    if length > MAX_MESSAGE_BYTES:
        raise ValueError("message too large")
    return json.loads(_read_exactly(sock, length))


def _read_exactly(sock, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- the kernel's side -------------------------------------------------------------

_connection = None
_connection_lock = threading.Lock()


def _call_grader(name: str, args, kwargs):
    global _connection
    with _connection_lock:
        if _connection is None:
            _connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            _connection.connect(os.environ[ORACLE_ENV])
        _send(
            _connection,
            {"name": name, "args": encode(tuple(args)), "kwargs": encode(list(kwargs.items()))},
        )
        reply = _receive(_connection)
    if "error" in reply:
        raise OracleError(reply["error"])
    return decode(reply["result"])


# Where each reference function lives: lstmlib.scratch, unless named here.
ELSEWHERE = {
    "make_windows": "lstmlib.forecasting",
    "collapse": "lstmlib.ctc",
    "ctc_forward": "lstmlib.ctc",
}
ELSEWHERE |= dict.fromkeys(  # exercise 09: the attention's parts, and its decoders
    (
        "attention_scores",
        "masked_softmax",
        "attention_context",
        "attention_decoder_start",
        "attention_decoder_step",
    ),
    "lstmlib.grading.assignments.attention_oracles",
)


def _library_function(name: str):
    import importlib

    return getattr(importlib.import_module(ELSEWHERE.get(name, "lstmlib.scratch")), name)


def reference(name: str):
    """The course's reference version of ``name`` (e.g. ``"lstm_step_forward"``)."""
    if ORACLE_ENV not in os.environ:
        return _library_function(name)

    def call_reference(*args, **kwargs):
        return _call_grader(name, args, kwargs)

    call_reference.__name__ = call_reference.__qualname__ = name
    return call_reference


# --- the grader's side -------------------------------------------------------------


class OracleServer:
    """Answers a sandboxed kernel's reference calls, for the names in ``allowed`` only."""

    def __init__(self, path: str):
        self.path = path
        self.allowed: frozenset[str] = frozenset()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        os.chmod(path, 0o777)  # the sandbox's user connects to it
        self._server.listen(8)
        self._slots = threading.BoundedSemaphore(8)
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                connection.close()
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection) -> None:
        try:
            with connection:
                while True:
                    request = _receive(connection)
                    _send(connection, self._reply(request))
        except (OSError, ValueError, ConnectionError):
            pass  # a kernel that hangs up or sends garbage loses only its own answers
        finally:
            self._slots.release()

    def _reply(self, request) -> dict:
        if not isinstance(request, dict) or not isinstance(request.get("name"), str):
            return {"error": "malformed request"}
        name = request["name"]
        if name not in self.allowed:
            return {"error": f"the reference {name} is not available in this cell"}
        try:
            args = decode(request.get("args"))
            kwargs = dict(decode(request.get("kwargs")) or [])
            if not isinstance(args, tuple) or not all(isinstance(k, str) for k in kwargs):
                raise ValueError("bad arguments")
            with self._lock:
                result = _library_function(name)(*args, **kwargs)
            return {"result": encode(result)}
        except Exception as error:  # the reference's own error, worded for the student
            return {"error": f"the reference {name} failed: {type(error).__name__}: {error}"}
