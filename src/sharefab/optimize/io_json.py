"""Reader and writer for the sharefab JSON instance format and JSON plans.

The instance format is documented in ``docs/optimize/instance-format.md`` with a JSON Schema in
``docs/optimize/instance.schema.json``. Structural errors name the JSON path (``jobs[3]
.operations[1].modes``); semantic errors come from ``ProblemData`` and name the job and operation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sharefab.optimize.data import (
    FixedBooking,
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    Operation,
    ProblemData,
    ProblemDataError,
    Resource,
    Site,
)

FORMAT = "sharefab-instance"
VERSION = 1


class JsonFormatError(ProblemDataError):
    """A malformed JSON instance; the message names the JSON path."""


def _get(obj: Any, key: str, path: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    if not isinstance(obj, dict):
        raise JsonFormatError(f"{path}: expected an object")
    if key not in obj:
        if default is ...:
            raise JsonFormatError(f"{path}: missing required field {key!r}")
        return default
    value = obj[key]
    if value is None and default is None:
        return None
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise JsonFormatError(f"{path}.{key}: expected {name}, got {type(value).__name__}")
    return value


def _pair_list(value: Any, path: str) -> list[tuple[int, int]]:
    if not isinstance(value, list):
        raise JsonFormatError(f"{path}: expected a list of [a, b] pairs")
    out = []
    for k, item in enumerate(value):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in item)
        ):
            raise JsonFormatError(f"{path}[{k}]: expected a pair of integers")
        out.append((item[0], item[1]))
    return out


def _matrix(value: Any, path: str) -> tuple[tuple[int, ...], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise JsonFormatError(f"{path}: expected a list of rows")
    for r, row in enumerate(value):
        for c, x in enumerate(row):
            if not isinstance(x, int) or isinstance(x, bool):
                raise JsonFormatError(f"{path}[{r}][{c}]: expected an integer")
    return tuple(tuple(row) for row in value)


def _objective(value: Any) -> Objective:
    if value is None:
        return Objective()
    if isinstance(value, str):
        return Objective.parse(value)
    if not isinstance(value, dict):
        raise JsonFormatError("objective: expected a string or an object")
    try:
        if "lexicographic" in value:
            terms = tuple(ObjectiveTerm(t) for t in value["lexicographic"])
            return Objective(weights=tuple((t, 1) for t in terms), lexicographic=terms)
        weights = _get(value, "weights", "objective", dict)
        return Objective(weights=tuple((ObjectiveTerm(k), int(w)) for k, w in weights.items()))
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ProblemDataError):
            raise
        raise JsonFormatError(f"objective: {exc}") from None


def from_dict(doc: Any) -> ProblemData:
    """Build ``ProblemData`` from a parsed JSON instance document."""
    if not isinstance(doc, dict):
        raise JsonFormatError("instance: expected a JSON object")
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise JsonFormatError(f"format: expected {FORMAT!r}, got {fmt!r}")
    sites_doc = _get(doc, "sites", "instance", list, default=[{}])
    sites = []
    for s, site in enumerate(sites_doc):
        sites.append(Site(_get(site, "name", f"sites[{s}]", str, default="")))
    resources = []
    for r, res in enumerate(_get(doc, "resources", "instance", list)):
        p = f"resources[{r}]"
        windows = _pair_list(_get(res, "windows", p, list, default=[]), f"{p}.windows")
        for w, (start, end) in enumerate(windows):
            if end <= start:
                raise JsonFormatError(
                    f"{p}.windows[{w}]: window ends before it starts ([{start}, {end}))"
                )
        resources.append(
            Resource(
                site=_get(res, "site", p, int, default=0),
                cost_per_time=_get(res, "cost_per_time", p, int, default=0),
                windows=tuple(windows),
                name=_get(res, "name", p, str, default=""),
            )
        )
    jobs = []
    for j, job in enumerate(_get(doc, "jobs", "instance", list)):
        p = f"jobs[{j}]"
        ops = []
        for o, op in enumerate(_get(job, "operations", p, list)):
            q = f"{p}.operations[{o}]"
            modes = []
            for k, mode in enumerate(_get(op, "modes", q, list)):
                mp = f"{q}.modes[{k}]"
                modes.append(Mode(_get(mode, "resource", mp, int), _get(mode, "duration", mp, int)))
            ops.append(
                Operation(
                    tuple(modes),
                    interruptible=_get(op, "interruptible", q, bool, default=False),
                    name=_get(op, "name", q, str, default=""),
                )
            )
        precedences = _get(job, "precedences", p, list, default=None)
        jobs.append(
            Job(
                tuple(ops),
                None if precedences is None else tuple(_pair_list(precedences, f"{p}.precedences")),
                release=_get(job, "release", p, int, default=0),
                due=_get(job, "due", p, int, default=None),
                weight=_get(job, "weight", p, int, default=1),
                name=_get(job, "name", p, str, default=""),
            )
        )
    fixed = []
    for k, booking in enumerate(_get(doc, "fixed", "instance", list, default=[])):
        p = f"fixed[{k}]"
        fixed.append(
            FixedBooking(
                job=_get(booking, "job", p, int),
                operation=_get(booking, "operation", p, int),
                resource=_get(booking, "resource", p, int),
                start=_get(booking, "start", p, int),
                end=_get(booking, "end", p, int),
            )
        )
    return ProblemData(
        jobs=tuple(jobs),
        resources=tuple(resources),
        sites=tuple(sites),
        transport_time=_matrix(doc.get("transport_time"), "transport_time"),
        transport_cost=_matrix(doc.get("transport_cost"), "transport_cost"),
        fixed=tuple(fixed),
        objective=_objective(doc.get("objective")),
    )


def to_dict(data: ProblemData) -> dict[str, Any]:
    """The JSON instance document for ``data`` (round-trips through ``from_dict``)."""
    obj = data.objective
    objective: dict[str, Any]
    if obj.lexicographic:
        objective = {"lexicographic": [t.value for t in obj.lexicographic]}
    else:
        objective = {"weights": {t.value: w for t, w in obj.weights}}
    return {
        "format": FORMAT,
        "version": VERSION,
        "objective": objective,
        "sites": [{"name": s.name} for s in data.sites],
        "transport_time": [list(row) for row in data.transport_time or ()],
        "transport_cost": [list(row) for row in data.transport_cost or ()],
        "resources": [
            {
                "name": r.name,
                "site": r.site,
                "cost_per_time": r.cost_per_time,
                "windows": [list(w) for w in r.windows],
            }
            for r in data.resources
        ],
        "jobs": [
            {
                "name": job.name,
                "release": job.release,
                "due": job.due,
                "weight": job.weight,
                **(
                    {}
                    if job.precedences is None
                    else {"precedences": [list(a) for a in job.precedences]}
                ),
                "operations": [
                    {
                        "name": op.name,
                        "interruptible": op.interruptible,
                        "modes": [
                            {"resource": m.resource, "duration": m.duration} for m in op.modes
                        ],
                    }
                    for op in job.operations
                ],
            }
            for job in data.jobs
        ],
        "fixed": [
            {
                "job": b.job,
                "operation": b.operation,
                "resource": b.resource,
                "start": b.start,
                "end": b.end,
            }
            for b in data.fixed
        ],
    }


def parse_json(text: str) -> ProblemData:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFormatError(f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
    return from_dict(doc)


def read_json(path: str | Path) -> ProblemData:
    return parse_json(Path(path).read_text())


def write_json(data: ProblemData, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(data), indent=1) + "\n")


def plan_to_dict(schedule: Sequence[Any]) -> dict[str, Any]:
    """A plan as ``{"operations": [{"job", "operation", "resource", "start", "end"}, ...]}``."""
    return {
        "operations": [
            {
                "job": a.job,
                "operation": a.operation,
                "resource": a.resource,
                "start": a.start,
                "end": a.end,
            }
            for a in schedule
        ]
    }
