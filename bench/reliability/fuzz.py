"""Dedicated contract-fuzzing run: Schemathesis over the whole OpenAPI on SQLite and PostgreSQL.

Runs tests/reliability/test_schemathesis.py with many examples per operation and prints a
Markdown summary (examples run per operation and mode, totals, failures) from its JSON reports.

    .venv/bin/python bench/reliability/fuzz.py --examples 1000 [--postgres URL] [--out DIR]

Without --postgres only SQLite runs; with it, the same test runs on both (in one pytest run).
On a busy machine two processes can share a run: one plain, one with --reverse (operations
last to first); each report says what it ran, so their counts can be merged per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/reliability/test_schemathesis.py"


def summarise(report: dict[str, object]) -> str:
    """A Markdown table of one backend's report."""
    ops = report["operations"]
    assert isinstance(ops, dict)
    lines = [
        f"### {report['backend']}: {len(ops)} operations, seed {report['seed']}, "
        f"{report['examples_per_operation']} examples asked per operation",
        "",
        "| operation | positive | negative | total |",
        "| --- | ---: | ---: | ---: |",
    ]
    grand = 0
    for label, modes in ops.items():
        pos, neg = modes.get("positive", 0), modes.get("negative", 0)
        grand += pos + neg
        lines.append(f"| `{label}` | {pos} | {neg} | {pos + neg} |")
    lines += ["", f"Total requests: {grand}. Failures: {len(report['failures'])}."]  # type: ignore[arg-type]
    for failure in report["failures"]:  # type: ignore[attr-defined]
        lines += ["", "```", str(failure)[:3000], "```"]
    return "\n".join(lines)


def merge(paths: list[Path]) -> str:
    """One Markdown table from several reports: examples per operation and backend.

    Where two processes shared a backend's run (one --reverse), each operation counts once,
    from the report that finished it (the larger count).
    """
    per_backend: dict[str, dict[str, tuple[int, int]]] = {}
    failures: list[str] = []
    for path in paths:
        report = json.loads(path.read_text())
        backend = str(report["backend"])
        table = per_backend.setdefault(backend, {})
        for label, modes in report["operations"].items():
            pos, neg = modes.get("positive", 0), modes.get("negative", 0)
            if pos + neg > sum(table.get(label, (0, 0))):
                table[label] = (pos, neg)
        failures += [f"{backend} ({path.parent.name}): {f}" for f in report["failures"]]
    backends = sorted(per_backend)
    labels = list(dict.fromkeys(label for b in backends for label in per_backend[b]))
    head = " | ".join(f"{b} positive | {b} negative" for b in backends)
    lines = [f"| operation | {head} |", "| --- |" + " ---: |" * (2 * len(backends))]
    for label in labels:
        cells = []
        for b in backends:
            pos, neg = per_backend[b].get(label, (0, 0))
            cells += [str(pos), str(neg)]
        lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    totals = []
    for b in backends:
        done = per_backend[b].values()
        totals.append(
            f"{b}: {len(per_backend[b])} operations, {sum(p + n for p, n in done)} requests, "
            f"{sum(1 for p, n in done if p + n >= 1000)} with at least 1,000"
        )
    lines += ["", "Totals: " + "; ".join(totals) + f". Failures: {len(failures)}."]
    lines += [f"- {f.splitlines()[0]}" for f in failures]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per operation")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--postgres", help="a throwaway PostgreSQL URL (the run wipes it)")
    parser.add_argument("--only-postgres", action="store_true", help="skip the SQLite run")
    parser.add_argument("--out", type=Path, help="directory for the JSON reports")
    parser.add_argument("--reverse", action="store_true", help="take the operations last to first")
    parser.add_argument(
        "--operations", default="", help="only operations whose label matches this regex"
    )
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="only merge these JSON reports into one table"
    )
    args = parser.parse_args()
    if args.merge:
        print(merge(args.merge))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="sharefab-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SHAREFAB_FUZZ_EXAMPLES": str(args.examples),
        "SHAREFAB_FUZZ_SEED": str(args.seed),
        "SHAREFAB_FUZZ_REPORT": str(out / "fuzz"),
        "SHAREFAB_FUZZ_REVERSE": "1" if args.reverse else "0",
        "SHAREFAB_FUZZ_OPERATIONS": args.operations,
    }
    env.pop("SHAREFAB_TEST_POSTGRES_URL", None)
    selector = TEST + "::test_every_operation_keeps_its_contract"
    if args.postgres:
        env["SHAREFAB_TEST_POSTGRES_URL"] = args.postgres
        if args.only_postgres:
            selector += "[postgres]"
    cmd = [str(ROOT / ".venv/bin/pytest"), selector, "-q", "-p", "no:cacheprovider"]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    for path in sorted(out.glob("fuzz.*.json")):
        print(summarise(json.loads(path.read_text())))
        print()
    print(f"reports in {out}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
