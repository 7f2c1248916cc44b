"""Reader and writer for the standard ``.fjs`` flexible job shop format.

Header ``<jobs> <machines> [<avg machines per operation>]``, then one line per job:
``<n ops>`` and per operation ``<k>`` followed by ``k`` pairs ``<machine (1-based)> <time>``.
Job ``j`` (0-based line order) becomes job ``j``; machine ``m`` becomes resource ``m - 1``.
"""

from __future__ import annotations

from pathlib import Path

from sharefab.optimize.data import (
    Job,
    Mode,
    Objective,
    Operation,
    ProblemData,
    ProblemDataError,
    Resource,
)


class FjsFormatError(ProblemDataError):
    """A malformed ``.fjs`` file; the message names the line."""


def _ints(tokens: list[str], lineno: int) -> list[int]:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise FjsFormatError(f"line {lineno}: {bad!r} is not an integer") from None


def parse_fjs(text: str) -> ProblemData:
    """Parse ``.fjs`` text into ``ProblemData`` (objective: makespan)."""
    lines = [(i + 1, line.split()) for i, line in enumerate(text.splitlines())]
    lines = [(n, toks) for n, toks in lines if toks]
    if not lines:
        raise FjsFormatError("line 1: empty file, expected '<jobs> <machines>'")
    head_no, head = lines[0]
    header = _ints(head[:2], head_no)
    if len(head) < 2:
        raise FjsFormatError(f"line {head_no}: header must be '<jobs> <machines> [<average>]'")
    n_jobs, n_machines = header[0], header[1]
    if n_jobs <= 0 or n_machines <= 0:
        raise FjsFormatError(f"line {head_no}: job and machine counts must be positive")
    job_lines = lines[1:]
    if len(job_lines) != n_jobs:
        raise FjsFormatError(
            f"line {head_no}: header declares {n_jobs} jobs but the file has "
            f"{len(job_lines)} job lines"
        )
    jobs = []
    for j, (lineno, toks) in enumerate(job_lines):
        values = _ints(toks, lineno)
        where = f"line {lineno} (job {j})"
        n_ops, pos = values[0], 1
        if n_ops <= 0:
            raise FjsFormatError(f"{where}: number of operations must be positive, got {n_ops}")
        ops = []
        for o in range(n_ops):
            if pos >= len(values):
                raise FjsFormatError(f"{where}: declares {n_ops} operations but ends after {o}")
            k = values[pos]
            pos += 1
            if k <= 0:
                raise FjsFormatError(f"{where}: operation {o} has no eligible machine")
            if pos + 2 * k > len(values):
                raise FjsFormatError(
                    f"{where}: operation {o} declares {k} machines but the line ends early"
                )
            modes: list[Mode] = []
            for _ in range(k):
                machine, duration = values[pos], values[pos + 1]
                pos += 2
                if not 1 <= machine <= n_machines:
                    raise FjsFormatError(
                        f"{where}: operation {o} names machine {machine}, outside 1..{n_machines}"
                    )
                if duration < 0:
                    raise FjsFormatError(
                        f"{where}: operation {o} has negative time {duration} on machine {machine}"
                    )
                if any(m.resource == machine - 1 for m in modes):
                    raise FjsFormatError(f"{where}: operation {o} lists machine {machine} twice")
                modes.append(Mode(machine - 1, duration))
            ops.append(Operation(tuple(modes)))
        if pos != len(values):
            raise FjsFormatError(
                f"{where}: {len(values) - pos} extra numbers after {n_ops} operations"
            )
        jobs.append(Job(tuple(ops)))
    resources = tuple(Resource() for _ in range(n_machines))
    return ProblemData(jobs=tuple(jobs), resources=resources, objective=Objective())


def read_fjs(path: str | Path) -> ProblemData:
    return parse_fjs(Path(path).read_text())


def format_fjs(data: ProblemData) -> str:
    """Write the job/machine/time part of ``data`` as ``.fjs`` (other attributes are dropped)."""
    n_modes = sum(len(op.modes) for op in data.operations)
    avg = n_modes / max(1, data.num_operations)
    lines = [f"{data.num_jobs} {data.num_resources} {avg:g}"]
    for job in data.jobs:
        parts = [str(len(job.operations))]
        for op in job.operations:
            parts.append(str(len(op.modes)))
            for mode in op.modes:
                parts += [str(mode.resource + 1), str(mode.duration)]
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def write_fjs(data: ProblemData, path: str | Path) -> None:
    Path(path).write_text(format_fjs(data))
