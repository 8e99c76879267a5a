"""The modules spiff-arena offers its scripts (``time``, ``datetime``, ``timedelta``, ``decimal``,
``json``, ``re``, ``random``, ``uuid``, ``calendar``), as the sandbox offers them: facades holding
the functions, classes and constants a script uses, never the module object.

Why facades: a module object leads anywhere (``random._os``, ``re._compiler``, ``json.decoder``,
``uuid._uuid``, ``time.sleep`` which holds a process without using CPU), and the attribute guard
only refuses names beginning with ``_``. A facade lists what is offered and nothing else.
Everything listed runs inside the sandbox process under its CPU and memory bounds: a regular
expression that backtracks for ever is stopped like any other runaway script.

What a script leaves in its task data must be storable (``engine.sandbox.wire``): ``datetime``
and ``timedelta`` values are stored as such, a ``UUID`` as its text (lossless, and what forms and
lists show), while a ``Decimal`` is refused naming its variable: turning it silently into a float
would lose digits and into text would change what ``+`` does with it, so the script chooses
(``str(amount)`` or ``float(amount)``).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as _datetime
import decimal as _decimal
import json as _json
import random as _random
import re as _re
import time as _time
import uuid as _uuid
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from engine.errors import ScriptError

MAX_ITEMS = 10_000_000  # as guards.MAX_VALUE_SIZE: the most items one call may build


class module(SimpleNamespace):  # noqa: N801 - the name a script's error message shows
    """A facade: ``x = json`` in a script is refused as "a value of type module"."""


def _facade(source: Any, names: Sequence[str], **extra: Any) -> module:
    return module(**{name: getattr(source, name) for name in names}, **extra)


def _bounded(name: str, count: Any) -> None:
    if isinstance(count, int) and count > MAX_ITEMS:
        raise ScriptError(f"Script refused: {name}() of more than {MAX_ITEMS:,} items is not allowed")


def _choices(population: Sequence[Any], weights: Any = None, *, cum_weights: Any = None, k: int = 1) -> list:
    _bounded("random.choices", k)
    return _random.choices(population, weights, cum_weights=cum_weights, k=k)


def _sample(population: Sequence[Any], k: int, *, counts: Any = None) -> list:
    _bounded("random.sample", k)
    return _random.sample(population, k, counts=counts)


def _randbytes(n: int) -> bytes:
    _bounded("random.randbytes", n)
    return _random.randbytes(n)


def _seed(a: int | float | str | None = None) -> None:
    """Seeding from text or a number only: ``seed()`` alone would read the system's entropy."""
    if a is None:
        raise ScriptError("Script refused: random.seed() needs a value")
    _random.seed(a)


def _plain(function: Callable[..., Any], *allowed: str) -> Callable[..., Any]:
    """``json.dumps``/``loads`` without ``cls=``: a script picks no encoder or decoder class."""
    def call(value: Any, **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise ScriptError(f"Script refused: json.{function.__name__}() does not take {', '.join(unknown)}")
        return function(value, **kwargs)
    call.__name__ = function.__name__
    return call


TIME = _facade(_time, ("time", "time_ns", "gmtime", "localtime", "mktime", "strftime", "strptime",
                       "monotonic", "perf_counter", "struct_time", "timezone", "altzone", "daylight", "tzname"))
DATETIME_NAMES = ("datetime", "date", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR")


def _module_attribute(name: str) -> property:
    return property(lambda cls: getattr(_datetime, name))


# ``datetime`` is the class (``datetime.now()``, as ServiceFlow's diagrams write it) and also stands
# for the module (``datetime.datetime.now()``, ``datetime.date.today()``, as spiff-arena's do). The
# module's names are properties of its metaclass: they win over the class's own ``date``/``time``
# methods when read from the class, and its values (``datetime.now().date()``) never see them.
DATETIME = type("datetime_module", (type,), {name: _module_attribute(name) for name in DATETIME_NAMES})(
    "datetime", (_datetime.datetime,), {})
DECIMAL = _facade(_decimal, (
    "Decimal", "InvalidOperation", "DivisionByZero", "Overflow", "Underflow", "Inexact", "Rounded",
    "DecimalException", "ROUND_UP", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR", "ROUND_HALF_UP",
    "ROUND_HALF_DOWN", "ROUND_HALF_EVEN", "ROUND_05UP"))
JSON = module(dumps=_plain(_json.dumps, "indent", "sort_keys", "ensure_ascii", "separators", "default"),
              loads=_plain(_json.loads, "object_hook", "parse_float", "parse_int"),
              JSONDecodeError=_json.JSONDecodeError)
RE = _facade(_re, ("compile", "match", "search", "fullmatch", "findall", "finditer", "sub", "subn", "split",
                   "escape", "error", "Pattern", "Match", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S",
                   "VERBOSE", "X", "ASCII", "A", "UNICODE", "U"))
RANDOM = _facade(_random, ("random", "randint", "randrange", "choice", "shuffle", "uniform", "gauss",
                           "normalvariate", "triangular", "betavariate", "expovariate", "getrandbits"),
                 choices=_choices, sample=_sample, randbytes=_randbytes, seed=_seed)
UUID = _facade(_uuid, ("uuid3", "uuid4", "uuid5", "UUID", "NAMESPACE_DNS", "NAMESPACE_URL", "NAMESPACE_OID",
                       "NAMESPACE_X500"))
CALENDAR = _facade(_calendar, (
    "isleap", "leapdays", "monthrange", "monthcalendar", "weekday", "timegm", "month_name", "month_abbr",
    "day_name", "day_abbr", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"))

GLOBALS: dict[str, Any] = {
    "time": TIME, "datetime": DATETIME, "timedelta": _datetime.timedelta, "decimal": DECIMAL, "json": JSON,
    "re": RE, "random": RANDOM, "uuid": UUID, "calendar": CALENDAR,
}
