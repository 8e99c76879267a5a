"""A corpus of hostile scripts, each put into a published diagram as a script task: escapes,
runaway CPU, memory, huge values, unstorable values and deep recursion. Each is refused when the
diagram is published (naming the element), or puts its case in error with a message that names
the element and the bound; the sandbox goes on serving the next script either way."""

from __future__ import annotations

import json
import threading

import pytest

from engine.errors import InvalidDefinition
from engine.sandbox import pool
from engine.sandbox.guards import MAX_CALL_DEPTH, MAX_VALUE_SIZE, TIME_LIMIT_S
from engine.sandbox.wire import MAX_DEPTH
from engine.services import cases
from engine.services.processes import publish_bundle
from tests.factories import actor, complete, script_process

CPU = f"Script stopped: it used more than {TIME_LIMIT_S:g} s of CPU time"
MEMORY = "Script stopped: it needed more than 256 MB of memory"
HUGE = f"Script refused: the value would have more than {MAX_VALUE_SIZE:,} items or characters"
DEEP = f"Script stopped: it nested calls or values deeper than {MAX_CALL_DEPTH}"
NOT_STORED = "which cannot be stored"

# (script, where it is stopped, what the message says)
PUBLISH, CASE = "publish", "case"
CORPUS = [
    # escapes, refused when the diagram is published
    ("import os", PUBLISH, "Import statements are not allowed (line 1)"),
    ("from os import system", PUBLISH, "ImportFrom statements are not allowed"),
    ("x = ().__class__.__base__.__subclasses__()", PUBLISH, '"__class__" is an invalid attribute name'),
    ("x = __import__('os')", PUBLISH, '"__import__" is an invalid variable name'),
    ("x = (lambda: 0).__globals__", PUBLISH, '"__globals__" is an invalid attribute name'),
    ("exec('x = 1')", PUBLISH, "Exec calls are not allowed"),
    ("eval('1')", PUBLISH, "Eval calls are not allowed"),
    ("with open('x') as f:\n    pass", PUBLISH, "With statements are not allowed"),
    ("try:\n    x = 1\nfinally:\n    pass", PUBLISH, "'finally' blocks are not allowed"),
    ("try:\n    x = 1\nexcept:\n    pass", PUBLISH, "'except' must name the exceptions it catches"),
    ("try:\n    x = 1\nexcept BaseException:\n    pass", PUBLISH, "'except' cannot catch BaseException"),
    ("try:\n    x = 1\nexcept (ValueError, SystemExit):\n    pass", PUBLISH, "'except' cannot catch SystemExit"),
    ("x = random._inst", PUBLISH, '"_inst" is an invalid attribute name'),
    ("ValueError = 1", PUBLISH, '"ValueError" is a built-in exception and cannot be reassigned'),
    ("x = f'{1:>{2}}'", PUBLISH, "f-string format specs must be literal"),
    ("x = __builtins__", PUBLISH, '"__builtins__" is an invalid variable name'),
    ("x = _getattr_", PUBLISH, '"_getattr_" is an invalid variable name'),
    ("x = [y for y in ().__class__.__mro__]", PUBLISH, '"__mro__" is an invalid attribute name'),
    ("async def f():\n    pass", PUBLISH, "AsyncFunctionDef statements are not allowed"),
    ("x = breakpoint()", PUBLISH, '"breakpoint" is a reserved name'),
    ("x = getattr(datetime, 'now').__self__", PUBLISH, '"__self__" is an invalid attribute name'),
    ("x = (" * 300 + ")" * 300, PUBLISH, "too many nested parentheses"),
    # escapes that only show when they run
    ("x = getattr((), '__cl' + 'ass__')", CASE, 'access to the attribute "__class__" is not allowed'),
    ("x = getattr(getattr, '__self__')", CASE, 'access to the attribute "__self__" is not allowed'),
    ("x = getattr(1, 'mro')", CASE, 'access to the attribute "mro" is not allowed'),
    ("x = open('/etc/passwd')", CASE, "open() is not available in scripts"),
    ("x = type(1)", CASE, "type() is not available in scripts"),
    ("x = globals()", CASE, "globals() is not available in scripts"),
    ("x = vars()", CASE, "vars() is not available in scripts"),
    ("x = dir()", CASE, "dir() is not available in scripts"),
    ("x = compile('1', 's', 'eval')", CASE, "compile() is not available in scripts"),
    ("x = '{0.__class__}'.format(1)", CASE, 'access to the attribute "format" is not allowed'),
    ("x = '{a}'.format_map({})", CASE, 'access to the attribute "format_map" is not allowed'),
    ("x = id(1)", CASE, "id() is not available in scripts"),
    ("x = iter([1])", CASE, "iter() is not available in scripts"),
    ("x = object()", CASE, "object() is not available in scripts"),
    ("x = super()", CASE, "super() is not available in scripts"),
    ("x = memoryview(b'a')", CASE, "memoryview() is not available in scripts"),
    ("x = input()", CASE, "input() is not available in scripts"),
    ("x = str.ljust('x', 10**9)", CASE, "call ljust() on a value, not on its type"),
    # spiff-arena's script globals, as facades: no module internals, no system access
    ("class A:\n    pass", CASE, "class A: scripts may only define exceptions"),
    ("class S(str):\n    pass\nx = S('x').ljust(10**9)", CASE, "class S: scripts may only define exceptions"),
    ("try:\n    x = 1 / 0\nexcept datetime:\n    pass", CASE, "'except' names datetime, which is not an exception"),
    ("try:\n    x = 1 / 0\nexcept json:\n    pass", CASE, "'except' names a value of type module"),
    ("x = getattr(re, '_compiler')", CASE, 'access to the attribute "_compiler" is not allowed'),
    ("x = getattr(random.random, '__self__')", CASE, 'access to the attribute "__self__" is not allowed'),
    ("x = random.SystemRandom()", CASE, "'module' object has no attribute 'SystemRandom'"),
    ("time.sleep(3600)", CASE, "'module' object has no attribute 'sleep'"),
    ("x = uuid.uuid1()", CASE, "'module' object has no attribute 'uuid1'"),
    ("random.seed()", CASE, "random.seed() needs a value"),
    ("x = json.dumps({}, cls=dict)", CASE, "json.dumps() does not take cls"),
    # runaway CPU, in Python and in single C operations
    ("while True:\n    pass", CASE, f"{CPU} (line 1)"),
    ("x = pow(7, 10**7000, 10**7000 + 1)", CASE, CPU),
    ("x = 10**1000000 // (10**500000 + 1)", CASE, CPU),
    ("x = sum(map(sum, [range(10**6)] * 10**6))", CASE, CPU),
    ("x = max([range(10**6)] * 10**6, key=sum)", CASE, CPU),
    ("def f(n):\n    return 1 if n == 0 else f(n - 1) + f(n - 1)\nx = f(40)", CASE, CPU),
    ("x = 0\nfor i in range(10**6):\n    for j in range(10**6):\n        x = x + 1", CASE, CPU),
    ("while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass", CASE, CPU),
    ("s = 'a' * 5000000\nwhile True:\n    n = s.count('b')", CASE, CPU),
    ("x = re.match(r'(a+)+$', 'a' * 64 + 'b')", CASE, CPU),
    ("x = re.findall(r'(x+x+)+y', 'x' * 5000)", CASE, CPU),
    # memory
    ("x = []\nwhile True:\n    x.append('a' * 9000000 + 'b')", CASE, MEMORY),
    ("s = 'x' * 9000000\nn = len([*s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s])", CASE, MEMORY),
    ("a = list(range(10**6))\na.extend(a)\na.extend(a)\na.extend(a)\na.extend(a)\na.extend(a)", CASE, MEMORY),
    ("x = [list(range(10**6)) for i in range(1000)]", CASE, MEMORY),
    ("x = {i: str(i) for i in range(10**6)}\ny = [dict(x) for i in range(100)]", CASE, MEMORY),
    # huge values, refused before they are built
    ("x = 'a' * 10**9", CASE, HUGE),
    ("x = [0] * 10**9", CASE, HUGE),
    ("x = 'a' * 9999999\ny = [x + str(i) for i in range(100)]", CASE, HUGE),
    ("x = 2 ** 10**8", CASE, "the number would have more than"),
    ("x = 1 << 10**9", CASE, "the number would have more than"),
    ("x = list(range(10**9))", CASE, "range() longer than 1,000,000 is not allowed"),
    ("x = '%0999999999d' % 1", CASE, "format widths or precisions above 9,999,999"),
    ("x = 'x'.ljust(10**9)", CASE, HUGE),
    ("x = ''.join(['a' * 1000000] * 100)", CASE, HUGE),
    ("x = sum([[1]] * 10, [])", CASE, "sum() of lists or strings is quadratic"),
    ("x = random.choices([1], k=10**9)", CASE, "random.choices() of more than 10,000,000 items is not allowed"),
    # values that cannot be stored
    ("x = {1, 2}", CASE, f"variable x holds a value of type set, {NOT_STORED} (use a list)"),
    ("x = frozenset([1])", CASE, f"variable x holds a value of type frozenset, {NOT_STORED}"),
    ("x = {(1, 2): 3}", CASE, "variable x has a key of type tuple ((1, 2)); keys must be text"),
    ("x = {1: 'a'}", CASE, "variable x has a key of type int (1); keys must be text"),
    ("x = math", CASE, f"variable x holds a value of type module, {NOT_STORED}"),
    ("x = json", CASE, f"variable x holds a value of type module, {NOT_STORED}"),
    ("x = decimal.Decimal('1.10')", CASE,
     f"variable x holds a value of type Decimal, {NOT_STORED} (use str() or float() of it)"),
    ("x = re.compile('a')", CASE, f"variable x holds a value of type Pattern, {NOT_STORED}"),
    ("x = ValueError('boom')", CASE, f"variable x holds a value of type ValueError, {NOT_STORED}"),
    ("x = float('nan')", CASE, f"variable x holds NaN or infinity, {NOT_STORED}"),
    ("x = float('inf')", CASE, f"variable x holds NaN or infinity, {NOT_STORED}"),
    ("x = -float('inf')", CASE, f"variable x holds NaN or infinity, {NOT_STORED}"),
    ("x = [1, float('nan')]", CASE, f"variable x[1] holds NaN or infinity, {NOT_STORED}"),
    ("x = {'a': {'b': {1, 2}}}", CASE, f"variable x['a']['b'] holds a value of type set, {NOT_STORED}"),
    ("x = chr(0xd800)", CASE, f"variable x holds text with a lone surrogate character, {NOT_STORED}"),
    ("x = 10**5000", CASE, f"variable x holds an integer with more than 4,200 digits, {NOT_STORED}"),
    ("x = b'bytes'", CASE, f"variable x holds a value of type bytes, {NOT_STORED}"),
    ("x = 1j", CASE, f"variable x holds a value of type complex, {NOT_STORED}"),
    ("x = range(3)", CASE, f"variable x holds a value of type range, {NOT_STORED}"),
    ("x = zip([1], [2])", CASE, f"variable x holds a value of type zip, {NOT_STORED}"),
    ("x = date(2024, 1, 1)", CASE, f"variable x holds a value of type date, {NOT_STORED} (use its .isoformat() text)"),
    ("x = []\nfor i in range(200):\n    x = [x]", CASE, f"variable x is nested deeper than {MAX_DEPTH} levels"),
    # recursion
    ("def f(n):\n    return f(n + 1)\nf(0)", CASE, f"{DEEP} (line 2)"),
    ("def k(x):\n    return sorted([x], key=k)\nx = k(1)", CASE, f"{DEEP} (line 2)"),
    ("x = []\nfor i in range(100000):\n    x = [x]", CASE, DEEP),
    ("x = json.loads('[' * 100000 + ']' * 100000)", CASE, DEEP),
]


def _id(entry: tuple[str, str, str]) -> str:
    return entry[0].splitlines()[0][:40]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("script", "stage", "expected"), CORPUS, ids=[_id(e) for e in CORPUS])
def test_a_hostile_script_is_refused_at_publish_or_puts_its_case_in_error(ctx, script, stage, expected):
    process_id = f"hostile_{abs(hash(script)) % 10**8}"
    if stage == PUBLISH:
        with pytest.raises(InvalidDefinition) as refused:
            publish_bundle(ctx, script_process(process_id, script))
        assert "Compute" in refused.value.message and expected in refused.value.message
    else:
        publish_bundle(ctx, script_process(process_id, script))
        case = cases.start_case(ctx, actor(ctx, "sales1"), process_id)
        failed = complete(ctx, "sales1", case.id, "Before", {"note": "kept"})
        assert failed.status == "error"
        assert failed.error.startswith("Compute (script): ")
        assert expected in failed.error
        assert failed.open_tasks == []
    assert ctx.script_engine.environment.evaluate("n + 1", {"n": 41}) == 42  # the sandbox serves on


def test_the_corpus_is_large_and_covers_every_kind_of_attack():
    assert len(CORPUS) >= 60
    messages = " ".join(expected for _, _, expected in CORPUS)
    for bound in (CPU, MEMORY, HUGE, DEEP, NOT_STORED, "not allowed", "not available"):
        assert bound in messages


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name}")


def test_unstorable_values_put_the_case_in_error_and_its_stored_data_stays_valid_json(ctx, api):
    publish_bundle(ctx, script_process("leaves_nan", "ratio = float('nan')\nrest = {1, 2}"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "leaves_nan")
    failed = complete(ctx, "sales1", case.id, "Before", {"note": "kept"})
    assert failed.status == "error"
    assert failed.error == ("Compute (script): Script refused: variable ratio holds NaN or infinity, "
                            "which cannot be stored")
    response = api.get(f"/cases/{case.id}", as_="sales1")
    assert response.status_code == 200
    assert json.loads(response.data, parse_constant=_refuse_constant)["data"] == {"note": "kept"}


def test_start_data_cannot_shadow_the_sandboxs_internal_names(ctx):
    publish_bundle(ctx, script_process("shadowed", "doubled = n * 2\ntext = '%s!' % word"))
    data = {"_mul_": "x", "_getattr_": 1, "_mod_": None, "__builtins__": {}, "n": 21, "word": "hi"}
    case = cases.start_case(ctx, actor(ctx, "sales1"), "shadowed", data)
    done = complete(ctx, "sales1", case.id, "Before", {})
    assert done.status == "running", done.error
    assert done.data["doubled"] == 42 and done.data["text"] == "hi!"
    assert done.data["_mul_"] == "x" and done.data["__builtins__"] == {}


def test_the_server_answers_other_requests_while_a_script_overruns(ctx, app, api):
    """A runaway script holds only its sandbox process: requests that arrive meanwhile are
    answered while it still runs, and its own request ends with the case in error."""
    publish_bundle(ctx, script_process("spins", "x = pow(7, 10**7000, 10**7000 + 1)"))
    case = cases.start_case(ctx, actor(ctx, "sales1"), "spins")
    before = next(t for t in case.open_tasks if t.title == "Before")
    outcome: dict[str, object] = {}
    headers = api._headers("sales1"), api._headers("qc1")
    assert api.get("/processes", as_="qc1").status_code == 200  # its last use is written now, not during the step

    def overrun() -> None:
        client = app.test_client()
        response = client.post(f"/api/v1/tasks/{before.id}/complete", json={"data": {}}, headers=headers[0])
        outcome["response"] = response.get_json()

    runner = threading.Thread(target=overrun)
    runner.start()
    while pool.pool().busy() < 1 and runner.is_alive():
        pass
    answered_meanwhile = 0
    while runner.is_alive() and answered_meanwhile < 1000:
        response = api.get("/processes", as_="qc1")
        assert response.status_code == 200
        answered_meanwhile += runner.is_alive()
    runner.join(timeout=60)
    assert answered_meanwhile >= 1
    assert outcome["response"]["status"] == "error"
    assert outcome["response"]["error"] == f"Compute (script): {CPU} (line 1)"


GATEWAY_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="test">
  <bpmn:process id="{pid}" name="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_sales" name="sales">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>before</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>route</bpmn:flowNodeRef><bpmn:flowNodeRef>after</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="before" name="Before"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="route" name="Route the request" default="f4">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="before" />
    <bpmn:sequenceFlow id="f2" sourceRef="before" targetRef="route" />
    <bpmn:sequenceFlow id="f3" sourceRef="route" targetRef="after">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="route" targetRef="after" />
    <bpmn:sequenceFlow id="f5" sourceRef="after" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(("condition", "expected"), [
    ("pow(7, 10**7000, 10**7000 + 1) &gt;= 0", CPU),
    ("len([" + ", ".join(["*s"] * 40) + "]) &gt; 0", MEMORY),
    ("{1, 2}", f"the expression's value holds a value of type set, {NOT_STORED}"),
])
def test_a_hostile_gateway_condition_puts_its_case_in_error_naming_the_gateway_and_the_bound(ctx, condition, expected):
    from engine.definitions.catalog import ProcessBundle

    process_id = f"hostile_gateway_{abs(hash(condition)) % 10**8}"
    xml = GATEWAY_PROCESS.format(pid=process_id, condition=condition)
    publish_bundle(ctx, ProcessBundle(process_id=process_id, name=process_id,
                                      files={f"workflows/{process_id}.bpmn": xml}))
    case = cases.start_case(ctx, actor(ctx, "sales1"), process_id, {"s": "x" * 900_000})
    failed = complete(ctx, "sales1", case.id, "Before", {})
    assert failed.status == "error"
    assert failed.error.startswith("Route the request (route): ")
    assert expected in failed.error
