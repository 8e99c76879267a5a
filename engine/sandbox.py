"""The sandbox every expression and script of a process definition runs in.

Why: gateway conditions, script tasks, pre/post scripts, timer expressions and DMN cells come
from uploaded diagrams and run inside the web server's threads. RestrictedPython refuses unsafe
syntax (dunder attributes, imports, exec) at compile time; the guards below refuse single C-level
operations that would build a huge value; a tracer installed on the running thread only stops
code that runs too long, recurses too deep or makes the process grow too much. ``signal.alarm``
is not an option because waitress runs requests outside the main thread.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import math
import operator
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from types import CodeType, FrameType, GeneratorType, ModuleType, SimpleNamespace, TracebackType
from typing import Any

from RestrictedPython import compile_restricted, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import effects
from engine.errors import ScriptError

TIME_LIMIT_S = 1.0
MAX_VALUE_SIZE = 10_000_000  # items or characters in one value, and in a script's task data
MAX_INT_BITS = 3_400_000  # about a million decimal digits; bigger ints take > 0.1 s of C to build
MAX_RANGE_LEN = 1_000_000
MAX_CALL_DEPTH = 200
MAX_MEMORY_GROWTH = 256 * 2**20  # bytes the process may grow while one script runs
MEMORY_CHECK_INTERVAL_S = 0.01
SCRIPT_FILENAME = "<string>"  # the name SpiffWorkflow looks for to report a script's line number

_SEQUENCES = (str, bytes, list, tuple)
_NESTED = (str, bytes, list, tuple, dict, set, frozenset)
_WIDE_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{8}|\d*\.(?:\*|\d{8}))")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Stop(BaseException):
    """Raised by the tracer. A BaseException, and the policy refuses bare ``except`` and
    ``finally``, so a script cannot catch it and carry on untraced."""


def _refuse(what: str) -> ScriptError:
    return ScriptError(f"Script refused: {what}")


def _check_size(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise _refuse(f"the value would have more than {MAX_VALUE_SIZE:,} items or characters")


def _weight(value: object, budget: int = MAX_VALUE_SIZE) -> int:
    """Size of ``value`` as serialised data, counting a shared sub-list each time it occurs
    (``[[0] * 1000] * 1000`` weighs a million); stops early once past ``budget``."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, _NESTED):
        return 1
    total = len(value)
    for item in value.values() if isinstance(value, dict) else value:
        if total > budget:
            break
        if isinstance(item, _NESTED):
            total += _weight(item, budget - total)
    return total


def _check_int_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise _refuse(f"the number would have more than {int(MAX_INT_BITS * math.log10(2)):,} digits")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_int_bits(a.bit_length() + b.bit_length())
        return
    seq, times = (a, b) if isinstance(b, int) else (b, a)
    if isinstance(times, int) and isinstance(seq, _SEQUENCES) and times > 0:
        _check_size(_weight(seq, MAX_VALUE_SIZE // times + 1) * times)


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
        raise _refuse("format widths or precisions above 9,999,999 (or given by *) are not allowed")


_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "+": _check_add, "*": _check_mul, "**": _check_pow, "<<": _check_lshift, "%": _check_mod}
_BINOP_GUARDS = {
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
    """A key run from C (``sorted(..., key=sum)``) is invisible to the tracer; a lambda is not."""
    return None if key is None else (lambda item: key(item))


def _keyed(builtin: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, key: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
        return builtin(*args, key=_python_key(key), **kwargs)
    return call


def _map(func: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
    """In Python so every item passes the tracer (C ``map(sum, ...)`` would not)."""
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
        raise _refuse(f"range() longer than {MAX_RANGE_LEN:,} is not allowed")
    return span


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise _refuse("sum() of lists or strings is quadratic; use a comprehension or str.join")
    return sum(iterable, start)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
    return pow(base, exp, mod)


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _refuse(f"{name}() is not available in scripts")
    return refuse


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
        raise _refuse(f'access to the attribute "{name}" is not allowed')
    value = safer_getattr_raise(obj, name, *default)
    guard = _METHOD_GUARDS.get((obj if isinstance(obj, type) else type(obj), name))
    if guard is not None and isinstance(obj, type):
        raise _refuse(f"call {name}() on a value, not on its type")
    return value if guard is None else functools.partial(guard, value)


_CATCHABLE = frozenset(n for n, v in safe_builtins.items()
                       if isinstance(v, type) and issubclass(v, Exception))
_UNAVAILABLE = ("open", "type", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "input",
                "breakpoint", "iter", "setattr", "delattr", "object", "super", "help", "memoryview")
_BUILTINS: dict[str, Any] = {
    **{n: v for n, v in safe_builtins.items() if not isinstance(v, type) or n in _CATCHABLE or
       not issubclass(v, BaseException)},
    **{n: _unavailable(n) for n in _UNAVAILABLE},
    "len": len, "min": _keyed(min), "max": _keyed(max), "sum": _sum, "sorted": _keyed(sorted), "any": any,
    "all": all, "list": list, "dict": dict, "set": set, "frozenset": frozenset, "tuple": tuple,
    "enumerate": enumerate, "zip": zip, "reversed": reversed, "map": _map, "filter": _filter,
    "range": _range, "pow": _pow, "getattr": _getattr, "datetime": datetime, "date": date,
    "timedelta": timedelta, "math": SimpleNamespace(**{n: getattr(math, n) for n in (
        "ceil", "floor", "sqrt", "isclose", "log", "log10", "exp", "pi", "e", "inf", "trunc", "fabs")}),
    "_getattr_": _getattr, "_getitem_": operator.getitem, "_getiter_": iter, "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs), "_inplacevar_": _inplacevar,
    "_print_": PrintCollector, **{name: _guarded(_CHECKS[sym], op) for name, sym, op in (
        ("_add_", "+", operator.add), ("_mul_", "*", operator.mul), ("_pow_", "**", operator.pow),
        ("_lshift_", "<<", operator.lshift), ("_mod_", "%", operator.mod))},
}
del _BUILTINS["__build_class__"]


def _policy_problems(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Constructs that could swallow a stop, hide a builtin exception or escape the guards."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
            yield node, "'finally' blocks are not allowed"
        elif isinstance(node, ast.ExceptHandler) and not _names_builtin_exceptions(node.type):
            yield node, "'except' must name built-in exceptions, such as 'except ValueError:'"
        elif isinstance(node, ast.With | ast.Import | ast.ImportFrom | ast.ClassDef):
            yield node, f"{type(node).__name__} statements are not allowed"
        elif isinstance(node, ast.FormattedValue) and node.format_spec and (
                re.search(r"\d{8}", ast.unparse(node.format_spec))
                or any(isinstance(n, ast.FormattedValue) for n in ast.walk(node.format_spec))):
            yield node, "f-string format specs must be literal and narrower than 10,000,000"
        name = getattr(node, "arg", None) if isinstance(node, ast.arg) else getattr(node, "name", None)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            name = node.id
        if isinstance(name, str) and name in _CATCHABLE:
            yield node, f'"{name}" is a built-in exception and cannot be reassigned'


def _names_builtin_exceptions(node: ast.expr | None) -> bool:
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    return all(isinstance(n, ast.Name) and n.id in _CATCHABLE for n in names)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus ours and size-guarded ``+ * ** << %``."""

    def visit_Module(self, node: ast.Module) -> Any:
        self._check_policy(node)
        return super().visit_Module(node)

    def visit_Expression(self, node: ast.Expression) -> Any:
        self._check_policy(node)
        return super().visit_Expression(node)

    def _check_policy(self, tree: ast.AST) -> None:
        for bad, message in _policy_problems(tree):
            self.error(bad, message)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.copy_location(ast.Name(guard, ast.Load()), node),
                        args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """``counts[key] += 1`` (RestrictedPython refuses it) as ``counts[key] = counts[key] + 1``."""
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)
        current = ast.copy_location(ast.Subscript(
            copy.deepcopy(node.target.value), copy.deepcopy(node.target.slice), ast.Load()), node.target)
        args = [ast.Constant(IOPERATOR_TO_STR[type(node.op)]), self.visit(current), self.visit(node.value)]
        value = ast.Call(ast.Name("_inplacevar_", ast.Load()), args, [])
        return ast.fix_missing_locations(ast.copy_location(ast.Assign([self.visit(node.target)], value), node))


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    """Cached by source text: a gateway condition is evaluated thousands of times. Scripts are
    dedented and expressions stripped first: BPMN editors indent the text inside XML elements."""
    source = textwrap.dedent(source).strip("\n") if mode == "exec" else source.strip()
    try:
        return compile_restricted(source, SCRIPT_FILENAME, mode, policy=_Policy)
    except SyntaxError as exc:
        errors = exc.args[0] if isinstance(exc.args[0], tuple) else (str(exc),)
    found = [(re.match(r"Line (\d+): (.*?)\.?$", e), e) for e in errors]
    parts = [(f"{m[2]} (line {m[1]})" if mode == "exec" else m[2]) if m else e for m, e in found]
    raise _refuse("; ".join(dict.fromkeys(parts)))


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:  # not Linux: the memory check is skipped
        return 0


def _make_tracer(deadline: float) -> Callable[[FrameType, str, Any], Any]:
    """A trace function that stops the code once it is past ``deadline``, too deep, or the
    process has grown by ``MAX_MEMORY_GROWTH``. All its state is its own: thread-safe.
    Frames of the guards (this module) are only checked on entry, which keeps them cheap."""
    state = [time.monotonic(), 0, 0]  # last memory check, RSS baseline (read lazily), call depth

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        script = frame.f_code.co_filename == SCRIPT_FILENAME
        try:
            now = time.monotonic()
            state[2] += script and (event == "call") - (event == "return")
            if now > deadline:
                reason = f"it ran longer than {TIME_LIMIT_S} s"
            elif state[2] > MAX_CALL_DEPTH:
                reason = f"it nested calls deeper than {MAX_CALL_DEPTH}"
            elif now - state[0] > MEMORY_CHECK_INTERVAL_S:
                state[0], rss = now, _rss()
                state[1] = state[1] or rss
                reason = f"it grew the server by more than {MAX_MEMORY_GROWTH >> 20} MB" \
                    if rss - state[1] > MAX_MEMORY_GROWTH else None
            else:
                reason = None
        except Exception as exc:  # a tracer that raises anything else is silently removed
            reason = f"its resource check failed ({type(exc).__name__})"
        if reason:
            raise _Stop(reason)
        return tracer if script else None
    return tracer


def _traced(code: CodeType, namespace: dict[str, Any]) -> Any:
    tracer = _make_tracer(time.monotonic() + TIME_LIMIT_S)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = eval(code, namespace)  # restricted code, restricted namespace
        if sys.gettrace() is not tracer:  # the tracer raised and something swallowed it
            raise _Stop("it ran out of its budget")
        return result
    finally:
        sys.settrace(previous)


def _script_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        line = tb.tb_lineno if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME else line
        tb = tb.tb_next
    return line


def _run(code: CodeType, namespace: dict[str, Any], with_line: bool) -> Any:
    try:
        return _traced(code, namespace)
    except (_Stop, ScriptError, MemoryError) as exc:
        message = exc.message if isinstance(exc, ScriptError) else \
            f"Script stopped: {exc if isinstance(exc, _Stop) else 'it ran out of memory'}"
        line = _script_line(exc.__traceback__)
        if with_line and line is not None:
            message = f"{message} (line {line})"
        raise ScriptError(message).with_traceback(exc.__traceback__) from None


class RestrictedScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, sandboxed. Holds no per-call state: one per process."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        """The value of ``expression`` over the task data (and e.g. data objects); changes nothing."""
        namespace = {**external_context, **context} if external_context else dict(context)
        namespace["__builtins__"] = _BUILTINS
        return _run(_compile(expression, "eval"), namespace, with_line=False)

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        """Runs ``script`` with the task data as its globals, so its assignments become task data;
        functions, modules, generators and the external context are removed afterwards."""
        if not script or not script.strip():
            return True
        code = _compile(script, "exec")
        external = external_context or {}
        hidden = (_CATCHABLE | set(external)).intersection(context)
        if hidden:
            raise _refuse(f"task data variables {sorted(hidden)} clash with built-in or external names")
        before = dict(context)
        context.update(external, __builtins__=_BUILTINS)
        try:
            _run(code, context, with_line=True)
        finally:
            for key in [k for k, v in context.items() if k == "__builtins__" or k in external or callable(v)
                        or isinstance(v, ModuleType | GeneratorType)]:
                del context[key]
        if _weight(context) > MAX_VALUE_SIZE:
            context.clear()
            context.update(before)
            raise _refuse(f"the task data it produced is larger than {MAX_VALUE_SIZE:,} items or characters")
        return True

    def call_service(self, context: dict[str, Any], operation_name: str = "",
                     operation_params: dict | None = None, **_: Any) -> str:
        """Service tasks request engine effects (see engine.effects); the JSON answer becomes the
        task's result variable."""
        params = {name: spec.get("value") for name, spec in (operation_params or {}).items()}
        return json.dumps(effects.request(operation_name, params))


def check_source(source: str, mode: str) -> None:
    """Raise the ScriptError the sandbox would raise compiling ``source`` (mode "eval" or "exec"),
    so a definition can be refused when it is published rather than mid-case."""
    _compile(source, mode)


def make_script_engine() -> PythonScriptEngine:
    """The engine every workflow of this process uses; thread-safe, so one instance is enough."""
    return PythonScriptEngine(environment=RestrictedScriptEnvironment())


def script_error_of(exc: BaseException) -> ScriptError | None:
    """The ScriptError behind ``exc``: SpiffWorkflow wraps it in a WorkflowTaskException
    raised while handling it, so it is found through ``__cause__``/``__context__``."""
    pending: list[Any] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, ScriptError):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__, getattr(current, "exception", None)]
    return None
