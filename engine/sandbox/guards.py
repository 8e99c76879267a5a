"""The guards of the script sandbox: limits, size checks on single C-level operations, and the
builtins a script may call.

RestrictedPython refuses unsafe syntax at compile time, but one call such as ``"a" * 10**9`` or
``list(range(10**9))`` builds a huge value inside C in one step; these guards refuse such
operations before they start, with a message that says why. They are the first line: the sandbox
process's kernel limits (engine.sandbox.child) bound whatever gets past them.
"""

from __future__ import annotations

import ast
import functools
import importlib
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from RestrictedPython import safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from engine.errors import ScriptError
from engine.sandbox import modules

TIME_LIMIT_S = 1.0
MAX_VALUE_SIZE = 10_000_000  # items or characters in one value, and in a script's task data
MAX_INT_BITS = 3_400_000  # about a million decimal digits; bigger ints take > 0.1 s of C to build
MAX_RANGE_LEN = 1_000_000
MAX_CALL_DEPTH = 300  # Python frames, the sandbox's own included
MAX_MEMORY_GROWTH = 256 * 2**20  # address space a sandbox process may add to what it needs to start
SCRIPT_FILENAME = "<string>"  # the name SpiffWorkflow looks for to report a script's line number

_SEQUENCES = (str, bytes, list, tuple)
_NESTED = (str, bytes, list, tuple, dict, set, frozenset)
_WIDE_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{8}|\d*\.(?:\*|\d{8}))")


class Stop(BaseException):
    """Raised by the CPU timer's signal handler. A BaseException, and the policy refuses bare ``except`` and
    ``finally``, so a script cannot catch it and carry on untraced."""


def refuse(what: str) -> ScriptError:
    return ScriptError(f"Script refused: {what}")


def _check_size(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise refuse(f"the value would have more than {MAX_VALUE_SIZE:,} items or characters")


def weight(value: object, budget: int = MAX_VALUE_SIZE, seen: dict[int, int] | None = None) -> int:
    """Size of ``value`` as serialised data, counting a shared sub-list each time it occurs
    (``[[0] * 1000] * 1000`` weighs a million) but measuring it once; stops early past ``budget``."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, _NESTED):
        return 1
    seen = {} if seen is None else seen
    if id(value) in seen:
        return seen[id(value)]
    total = len(value)
    for item in value.values() if isinstance(value, dict) else value:
        if total > budget:
            break
        if isinstance(item, _NESTED):
            total += weight(item, budget - total, seen)
    seen[id(value)] = total
    return total


def _check_int_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise refuse(f"the number would have more than {int(MAX_INT_BITS * math.log10(2)):,} digits")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length())
        return
    seq, times = (a, b) if isinstance(b, int) else (b, a)
    if isinstance(times, int) and isinstance(seq, _SEQUENCES) and times > 0:
        _check_size(weight(seq, MAX_VALUE_SIZE // times + 1) * times)


def _check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _check_int_bits(math.log2(abs(a)) * b)


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_int_bits(a.bit_length() + b)


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_size(len(a) + len(b))


def _check_mod(a: Any, b: Any) -> None:
    """``"%099999999d" % 1`` builds a huge string in one C call."""
    if isinstance(a, str | bytes) and _WIDE_FORMAT.search(a if isinstance(a, str) else a.decode("latin-1")):
        raise refuse("format widths or precisions above 9,999,999 (or given by *) are not allowed")


_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "+": _check_add, "*": _check_mul, "**": _check_pow, "<<": _check_lshift, "%": _check_mod}
BINOP_CHECKS = {sym: _CHECKS[sym] for sym in ("+", "*", "**", "%")}  # as Jinja names its operators
BINOP_GUARDS = {
    ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}
_INPLACE_OPS = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul}


def _guarded(check: Callable[[Any, Any], None], op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def guard(a: Any, b: Any) -> Any:
        check(a, b)
        return op(a, b)
    return guard


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    if op[:-1] in _CHECKS:
        _CHECKS[op[:-1]](target, value)
    return _INPLACE_OPS[op](target, value)


def _python_key(key: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """A key run from C (``sorted(..., key=sum)``) gives the CPU timer's signal no Python frame to
    stop in until the whole sort is done; a lambda gives it one per item."""
    return None if key is None else (lambda item: key(item))


def _keyed(builtin: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, key: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
        return builtin(*args, key=_python_key(key), **kwargs)
    return call


def _map(func: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
    """In Python so the CPU timer can stop it between items (C ``map(sum, ...)`` could not)."""
    for args in zip(*iterables, strict=False):
        yield func(*args)


def _filter(func: Callable[[Any], Any] | None, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        if (func(item) if func is not None else item):
            yield item


def _range(*args: int) -> range:
    span = range(*args)
    try:
        too_long = len(span) > MAX_RANGE_LEN
    except OverflowError:
        too_long = True
    if too_long:
        raise refuse(f"range() longer than {MAX_RANGE_LEN:,} is not allowed")
    return span


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise refuse("sum() of lists or strings is quadratic; use a comprehension or str.join")
    return sum(iterable, start)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
    return pow(base, exp, mod)


def _unavailable(name: str) -> Callable[..., Any]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise refuse(f"{name}() is not available in scripts")
    return unavailable


def _import(name: str, *args: Any, **kwargs: Any) -> Any:
    """Scripts cannot name ``__import__`` (RestrictedPython refuses the name), but C code calls it
    from the script's builtins: ``datetime.strptime`` imports ``_strptime`` on each call, and
    ``date.today`` imports ``time``. What it imports goes back to that C code, not to the script."""
    if name not in ("_strptime", "time"):
        raise refuse(f"importing {name!r} is not allowed")
    return importlib.import_module(name)


def _join(method: Callable[[list[Any]], Any], iterable: Iterable[Any]) -> Any:
    items = list(iterable)
    _check_size(len(method.__self__) * len(items) + sum(len(i) for i in items if isinstance(i, str | bytes)))
    return method(items)


def _sized(estimate: Callable[[Any, tuple, dict], int]) -> Callable[..., Any]:
    """Wraps a method that can build a huge value in one C call (``"x".ljust(10**9)``)."""
    def call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        _check_size(estimate(method.__self__, args, kwargs))
        return method(*args, **kwargs)
    return call


def _replaced(s: Any, a: tuple, k: dict) -> int:
    return len(s) + (s.count(a[0]) if a[0] else len(s) + 1) * len(a[1]) if len(a) > 1 else 0


def _expanded(s: Any, a: tuple, k: dict) -> int:
    return len(s) + s.count("\t" if isinstance(s, str) else b"\t") * (a[0] if a else k.get("tabsize", 8))


def _translated(s: Any, a: tuple, k: dict) -> int:
    if not a or not isinstance(a[0], dict):
        return 0
    return len(s) * max([len(v) for v in a[0].values() if isinstance(v, str)] or [1])


_padded = _sized(lambda s, a, k: a[0] if a and isinstance(a[0], int) else 0)
_METHOD_GUARDS: dict[tuple[type, str], Callable[..., Any]] = {
    **{(t, m): _padded for t in (str, bytes) for m in ("ljust", "rjust", "center", "zfill")},
    **{(t, "join"): _join for t in (str, bytes)},
    **{(t, "replace"): _sized(_replaced) for t in (str, bytes)},
    **{(t, "expandtabs"): _sized(_expanded) for t in (str, bytes)},
    (str, "translate"): _sized(_translated),
    **{(t, "to_bytes"): _sized(lambda s, a, k: a[0] if a else k.get("length", 1)) for t in (int, bool)},
    (list, "sort"): lambda method, *, key=None, reverse=False: method(key=_python_key(key), reverse=reverse),
}
_DENIED_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro", "format", "format_map"}


def _getattr(obj: Any, name: str, *default: Any) -> Any:
    if not isinstance(name, str) or name.startswith("_") or name in _DENIED_ATTRIBUTES:
        raise refuse(f'access to the attribute "{name}" is not allowed')
    value = safer_getattr_raise(obj, name, *default)
    guard = _METHOD_GUARDS.get((obj if isinstance(obj, type) else type(obj), name))
    if guard is not None and isinstance(obj, type):
        raise refuse(f"call {name}() on a value, not on its type")
    return value if guard is None else functools.partial(guard, value)


CATCHABLE = frozenset(n for n, v in safe_builtins.items()
                       if isinstance(v, type) and issubclass(v, Exception))


def _catchable(spec: Any) -> Any:
    """What an ``except`` names, checked when it is looked at: exception classes only (a builtin,
    ``json.JSONDecodeError``, ``decimal.InvalidOperation``, a class the script defined), never
    the sandbox's stops, which are not ``Exception``s."""
    kinds = spec if isinstance(spec, tuple) else (spec,)
    for kind in kinds:
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            what = kind.__name__ if isinstance(kind, type) else f"a value of type {type(kind).__name__}"
            raise refuse(f"'except' names {what}, which is not an exception class")
    return spec


def _exception_class(name: str, bases: tuple, namespace: dict[str, Any]) -> type:
    """The metaclass of every class a script defines: scripts define exceptions to raise and
    catch (``class Rejected(ValueError):``), and nothing else, so no subclass of ``str`` or
    ``list`` can slip past the guards that key on a value's type."""
    if not bases or not all(isinstance(b, type) and issubclass(b, Exception) for b in bases):
        raise refuse(f"class {name}: scripts may only define exceptions, such as 'class {name}(ValueError):'")
    return type(name, bases, namespace)


_UNAVAILABLE = ("open", "type", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "input",
                "breakpoint", "iter", "setattr", "delattr", "object", "super", "help", "memoryview", "id")
BUILTINS: dict[str, Any] = {
    **{n: v for n, v in safe_builtins.items() if not isinstance(v, type) or n in CATCHABLE or
       not issubclass(v, BaseException)},
    **{n: _unavailable(n) for n in _UNAVAILABLE},
    "len": len, "min": _keyed(min), "max": _keyed(max), "sum": _sum, "sorted": _keyed(sorted), "any": any,
    "all": all, "list": list, "dict": dict, "set": set, "frozenset": frozenset, "tuple": tuple,
    "enumerate": enumerate, "zip": zip, "reversed": reversed, "map": _map, "filter": _filter,
    "range": _range, "pow": _pow, "getattr": _getattr, "date": date, **modules.GLOBALS,
    "math": modules.module(**{n: getattr(math, n) for n in (
        "ceil", "floor", "sqrt", "isclose", "log", "log10", "exp", "pi", "e", "inf", "trunc", "fabs")}),
    "__metaclass__": _exception_class, "_catchable_": _catchable, "__name__": "script",
    "_getattr_": _getattr, "_getitem_": operator.getitem, "_getiter_": iter, "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs), "_inplacevar_": _inplacevar,
    "_print_": PrintCollector, "__import__": _import, **{name: _guarded(_CHECKS[sym], op) for name, sym, op in (
        ("_add_", "+", operator.add), ("_mul_", "*", operator.mul), ("_pow_", "**", operator.pow),
        ("_lshift_", "<<", operator.lshift), ("_mod_", "%", operator.mod))},
}
