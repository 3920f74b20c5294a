"""Values across the trust boundary: what a student's process may say, as plain JSON.

The student's process answers the grader's requests with observations: rates, return values, attribute
values, the exception its code raised. They cross as tagged JSON (never pickle: unpickling runs code), and
the grader rebuilds local stand-ins (a float, a list, a small tensor, an exception of the same builtin
kind) so that one comparison serves the notebook's own checks and the grader's. Nothing decoded here is
trusted: it is data to compare, and its size is bounded.
"""

from __future__ import annotations

import builtins
import itertools
import json
import math
import numbers
import re

MAX_MESSAGE = 8 * 1024 * 1024  # bytes in one message, either way
MAX_ITEMS = 100_000  # elements in one encoded container (a JSON array in a message)
MAX_TEXT = 2_000  # characters of a repr or an exception message
MAX_DEPTH = 16  # levels of an encoded value (deeper is sent as opaque); each takes up to 3 JSON levels
# What one message may hold, checked before anything is computed from it: decoding stays linear and cheap.
MAX_VALUES = 400_000  # JSON values in one message
MAX_JSON_DEPTH = 64  # nested JSON arrays and objects in one message
MAX_DIGITS = 20  # digits of any integer in a message
MAX_DIMS = 8  # dimensions of a tensor
# A surrogate left alone after JSON decoding (a pair is already one character): text no file can hold, so a
# message `raise ValueError("\\udcff")` would make every UTF-8 file written from it fail (the class report)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Opaque:
    """A value that has no plain form (an object of the student's): compared by nothing, shown by its repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__


class Missing:
    """An attribute the student's object does not have."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<no attribute {self.name!r}>"


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def _safe_repr(value) -> str:
    try:
        return _short(repr(value))
    except Exception as error:  # a student's __repr__ may raise anything
        _reraise_guard_stop(error)
        return f"<{type(value).__name__}>"


def _reraise_guard_stop(error: Exception) -> None:
    """Re-raise what the guard around the student's code raises to stop it (the grader's stub of PyTorch's schedulers
    raises ForbiddenUse; StudentTimeout and KeyboardInterrupt are no Exception and pass `except Exception`): a value
    whose conversion runs a scheduler or runs too long must be reported as that, not sent as opaque (R23p)."""
    if type(error).__name__ == "ForbiddenUse":  # by name: this module imports nothing of the grader's
        raise error


# --------------------------------------------------------------------------------------------
# The student's side: any value to tagged JSON
# --------------------------------------------------------------------------------------------
def encode(value, depth: int = 0, left: list[int] | None = None):
    """A JSON-able description of `value` (only its plain content, never code). `left`: how many more values the
    whole description may hold (MAX_VALUES, shared down the recursion: a list that holds itself ten times was walked
    10**16 times, R23n). Kinds are read from the value's own type, not its `__class__` (which an object may fake)."""
    import torch

    left = [MAX_VALUES] if left is None else left
    left[0] -= 1
    kind = type(value)
    if depth > MAX_DEPTH or left[0] < 0:
        return {"opaque": kind.__name__, "repr": "<nested too deeply>" if depth > MAX_DEPTH else "<too many values>"}
    if value is None or issubclass(kind, (bool, str)):
        return {"plain": value if not issubclass(kind, str) else _short(value)}
    if issubclass(kind, Missing):
        return {"missing": value.name}
    if issubclass(kind, int) and -(10**MAX_DIGITS) < int.__int__(value) < 10**MAX_DIGITS:
        return {"int": str(int.__int__(value))}  # a subclass (IntEnum) as its stored value: an int, not a float (R23n)
    if kind is float:
        return {"float": _float(value)}
    # every dimension within what `decode` takes: an empty tensor may have one of any length (torch.zeros(0, 100_001)
    # was sent, refused by the grader and zeroed every test cell of its chapter, R23p)
    if issubclass(kind, torch.Tensor) and value.numel() <= MAX_ITEMS and value.dim() <= MAX_DIMS and _small(value):
        flat = value.detach().reshape(-1).tolist()
        return {
            "tensor": [_float(x) if isinstance(x, float) else x for x in flat],
            "shape": list(value.shape),
            "dtype": str(value.dtype).removeprefix("torch."),
        }
    # A subclass (a namedtuple, an OrderedDict, a defaultdict) is sent as its base's content, read through the base's
    # own methods: a correct answer in one was judged right in the kernel and arrived opaque, 0 (R23m)
    if issubclass(kind, (list, tuple)):
        base = tuple if issubclass(kind, tuple) else list
        items = list(itertools.islice(base.__iter__(value), MAX_ITEMS))
        return {base.__name__: [encode(item, depth + 1, left) for item in items]}
    if issubclass(kind, dict):
        items = list(itertools.islice(dict.items(value), MAX_ITEMS))
        return {"dict": [[encode(k, depth + 1, left), encode(v, depth + 1, left)] for k, v in items]}
    if isinstance(value, numbers.Real):  # numpy scalars, Fraction, a float subclass
        try:
            return {"number": _float(float(value)), "type": type(value).__name__}
        except Exception as error:  # a student's __float__ may raise anything: then the value has no plain form
            _reraise_guard_stop(error)
            if issubclass(kind, int):  # 10**5000: its repr raises past 4300 digits; say why it is no number
                digits = int(int.bit_length(value) * math.log10(2)) + 1
                return {"opaque": kind.__name__, "repr": f"<an int of about {digits} digits: too large for a float>"}
    return {"opaque": type(value).__name__, "repr": _safe_repr(value)}


def _small(tensor) -> bool:
    return all(n <= MAX_ITEMS for n in tensor.shape)


def _float(x: float):
    return x if math.isfinite(x) else repr(x)  # JSON has no nan or inf: "nan", "inf", "-inf"


def encode_error(error: BaseException) -> dict:
    """An exception the student's code raised: its class's name, its builtin bases and its message."""
    bases = [klass.__name__ for klass in type(error).__mro__ if getattr(builtins, klass.__name__, None) is klass]
    try:
        message = _short(str(error))
    except BaseException:
        message = ""
    return {"name": type(error).__name__, "bases": bases, "message": message}


# --------------------------------------------------------------------------------------------
# The grader's side: tagged JSON back to local stand-ins, validating as it goes
# --------------------------------------------------------------------------------------------
class Malformed(ValueError):
    """The student's process answered something that is not a well-formed observation."""


def decode(data, depth: int = 0):
    import torch

    if depth > MAX_DEPTH + 1 or not isinstance(data, dict) or len(data) not in (1, 2, 3):  # + 1: the opaque
        raise Malformed(f"not an encoded value: {str(data)[:80]}")
    if "plain" in data:
        value = data["plain"]
        if value is None or isinstance(value, (bool, str)):
            return value
    elif "missing" in data and isinstance(data["missing"], str):
        return Missing(data["missing"])
    elif "int" in data and isinstance(data["int"], str) and _is_int_text(data["int"]):
        return int(data["int"])
    elif "float" in data:
        return _number(data["float"])
    elif "number" in data:
        return _number(data["number"])
    elif "tensor" in data and isinstance(data["tensor"], list) and isinstance(data.get("shape"), list):
        shape = _shape(data["shape"], len(data["tensor"]))  # before anything is computed from it
        if data.get("dtype") == "bool":  # a bool tensor as encode sends it (torch.tensor([True]) was refused, R23p)
            return torch.tensor([_bool(x) for x in data["tensor"]], dtype=torch.bool).reshape(shape)
        values = [_number(x) for x in data["tensor"]]
        dtype = {
            "float16": torch.float16,
            "bfloat16": torch.bfloat16,
            "float32": torch.float32,
            "float64": torch.float64,
        }.get(str(data.get("dtype")), torch.float64)  # never a lookup by name
        return torch.tensor(values, dtype=dtype).reshape(shape)
    elif "list" in data and isinstance(data["list"], list):
        return [decode(item, depth + 1) for item in data["list"]]
    elif "tuple" in data and isinstance(data["tuple"], list):
        return tuple(decode(item, depth + 1) for item in data["tuple"])
    elif "dict" in data and isinstance(data["dict"], list):
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in data["dict"]):
            raise Malformed("a dict's items are not key and value pairs")
        pairs = [(decode(k, depth + 1), decode(v, depth + 1)) for k, v in data["dict"]]
        return {key: value for key, value in pairs if isinstance(key, (str, int, float, bool, type(None)))}
    elif "opaque" in data:
        return Opaque(str(data["opaque"])[:100], _short(str(data.get("repr", ""))))
    raise Malformed(f"not an encoded value: {str(data)[:80]}")


def _is_int_text(text: str) -> bool:
    digits = text[1:] if text[:1] == "-" else text
    return 0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()


def _shape(shape: list, length: int) -> list[int]:
    """A tensor's shape, each dimension a small int, at most MAX_DIMS of them, matching its data's length."""
    if len(shape) > MAX_DIMS or not all(type(n) is int and 0 <= n <= MAX_ITEMS for n in shape):
        raise Malformed(f"not a tensor shape: {str(shape)[:80]}")
    if math.prod(shape) != length:  # at most MAX_ITEMS ** MAX_DIMS: cheap
        raise Malformed(f"a tensor of shape {shape} with {length} values")
    return shape


def _bool(x) -> bool:
    if not isinstance(x, bool):
        raise Malformed(f"not a bool: {str(x)[:40]}")
    return x


def _number(x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        raise Malformed(f"not a number: {str(x)[:40]}")
    if isinstance(x, str):
        if x not in ("nan", "inf", "-inf"):
            raise Malformed(f"not a number: {x[:40]}")
        return float(x)
    return float(x) if isinstance(x, float) else x


def decode_error(data) -> BaseException:
    """A local exception standing for the student's: same name, same builtin kind (ValueError stays a
    ValueError), same message. Only builtin exception classes are ever used as bases."""
    if not isinstance(data, dict):
        raise Malformed("not an encoded exception")
    base = Exception
    for name in data.get("bases", [])[:50]:
        klass = getattr(builtins, str(name), None)
        if isinstance(klass, type) and issubclass(klass, Exception):
            base = klass
            break
    name = str(data.get("name", "Exception"))[:100] or "Exception"
    if not name.isidentifier():
        name = base.__name__
    return type(name, (base,), {"__module__": "student"})(_short(str(data.get("message", ""))))


# --------------------------------------------------------------------------------------------
# The replies' envelopes: the answer's process sends them, the kernel measures an answer in the same one
# (`lrcourse.checking.answer_forms`), so an answer at the bounds gets one verdict on both sides (R23p)
# --------------------------------------------------------------------------------------------
def value_reply(value) -> dict:
    """The reply to {"op": "value"}: a callable name as only that (its content is never sent), else its plain data."""
    if callable(value):
        return {"ok": True, "callable": True}
    return {"ok": True, "callable": False, "value": encode(value)}


def call_reply() -> dict:
    """The reply to {"op": "call"}, before the call: the guard fills `value`, `timeout` or `error`, the caller then
    `optimizers` (the rates after the call)."""
    return {"ok": True, "value": None, "error": None, "timeout": False, "optimizers": []}


def dumps(message: dict) -> bytes:
    return (json.dumps(message, allow_nan=False) + "\n").encode()


def loads(line: bytes) -> dict:
    """One message, within every bound above (each integer's digits checked before it is converted)."""
    if len(line) > MAX_MESSAGE:
        raise Malformed(f"a message over {MAX_MESSAGE // 2**20} MB")
    try:
        message = json.loads(line, parse_int=_bounded_int)
    except Malformed:
        raise
    except (ValueError, RecursionError) as error:
        raise Malformed(f"not JSON: {str(error)[:200]}") from None
    if not isinstance(message, dict):
        raise Malformed("not a JSON object")
    _check_size(message)
    return _whole_text(message) if b"\\u" in line else message  # escapes are the only way one arrives


def _whole_text(value):
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD, as a decoder does."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_whole_text(item) for item in value]
    if isinstance(value, dict):
        return {_whole_text(key): _whole_text(item) for key, item in value.items()}
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Malformed(f"an integer of more than {MAX_DIGITS} digits")
    return int(text)


def _check_size(message) -> None:
    """At most MAX_VALUES values, MAX_JSON_DEPTH levels and MAX_ITEMS elements per array (no recursion)."""
    count, stack = 0, [(message, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise Malformed(f"a message of more than {MAX_VALUES} values")
        if isinstance(value, (list, dict)):
            if depth > MAX_JSON_DEPTH:
                raise Malformed(f"a message nested more than {MAX_JSON_DEPTH} levels deep")
            if len(value) > MAX_ITEMS:
                raise Malformed(f"a list of more than {MAX_ITEMS} values")
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
