"""The JSON instance format round-trips and rejects bad input naming the order and operation."""

import json
from pathlib import Path

import pytest

from sharefab.optimize.builder import Model
from sharefab.optimize.data import ProblemDataError
from sharefab.optimize.io_json import from_dict, parse_json, to_dict

DOCS = Path(__file__).parents[2] / "docs" / "optimize"


def _doc() -> dict:
    m = Model()
    a, b = m.add_site("A"), m.add_site("B")
    r0 = m.add_resource(site=a, cost_per_time=2, windows=[(0, 10), (20, 30)], name="M1")
    r1 = m.add_resource(site=b, name="M2")
    j = m.add_job(release=1, due=9, weight=3, name="order-1")
    m.add_operation(j, {r0: 2, r1: 3}, name="cut")
    m.add_operation(j, {r1: 1}, interruptible=True)
    m.set_transport(a, b, 5, 7)
    m.set_objective("lex:tardiness,cost")
    return to_dict(m.data())


def test_round_trip() -> None:
    """to_dict then from_dict gives back equal data, through JSON text."""
    doc = _doc()
    data = from_dict(doc)
    assert parse_json(json.dumps(doc)) == data
    assert to_dict(data) == doc


def test_example_in_docs_parses() -> None:
    """The documented example instance is valid."""
    example = DOCS / "example-instance.json"
    data = parse_json(example.read_text())
    assert data.num_jobs >= 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["jobs"][0]["operations"][1].update(modes=[]),
            "operation 1 of job 0 has no eligible resource",
        ),
        (
            lambda d: d["jobs"][0]["operations"][0]["modes"][0].update(duration=-2),
            "operation 0 of job 0 has negative duration",
        ),
        (
            lambda d: d["jobs"][0].update(precedences=[[0, 1], [1, 0]]),
            "job 0 has a precedence cycle",
        ),
        (
            lambda d: d["resources"][0].update(windows=[[10, 5]]),
            r"resources\[0\].windows\[0\]: window ends before it starts",
        ),
        (
            lambda d: d["jobs"][0]["operations"][0]["modes"][0].pop("resource"),
            r"jobs\[0\].operations\[0\].modes\[0\]: missing required field 'resource'",
        ),
        (
            lambda d: d["jobs"][0]["operations"][0]["modes"][0].update(duration="2"),
            r"jobs\[0\].operations\[0\].modes\[0\].duration: expected int",
        ),
        (lambda d: d.update(transport_time=[[0, 1]]), "transport_time must be a 2x2 matrix"),
    ],
)
def test_bad_input(mutate, message) -> None:  # type: ignore[no-untyped-def]
    """Each malformed document is rejected before solving with a located message."""
    doc = _doc()
    mutate(doc)
    with pytest.raises(ProblemDataError, match=message):
        from_dict(doc)


def test_invalid_json_names_line() -> None:
    """Unparseable JSON reports the line."""
    with pytest.raises(ProblemDataError, match="line 2: invalid JSON"):
        parse_json('{"jobs": [],\n  oops}')
