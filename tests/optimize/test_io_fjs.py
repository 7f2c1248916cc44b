"""The .fjs reader accepts the standard format and rejects malformed files by line."""

from pathlib import Path

import pytest

from sharefab.optimize.io_fjs import FjsFormatError, format_fjs, parse_fjs, read_fjs

BENCH = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "fjsp" / "brandimarte"

TINY = """2 3 1.5
2 1 1 5 2 2 4 3 6
1 1 3 7
"""


def test_parse_tiny() -> None:
    """Machines become 0-based resources; jobs and operations keep file order."""
    data = parse_fjs(TINY)
    assert data.num_jobs == 2
    assert data.num_resources == 3
    op = data.jobs[0].operations[1]
    assert [(m.resource, m.duration) for m in op.modes] == [(1, 4), (2, 6)]
    assert data.jobs[1].operations[0].modes[0].resource == 2


def test_round_trip() -> None:
    """format_fjs then parse_fjs gives back the same data."""
    data = parse_fjs(TINY)
    assert parse_fjs(format_fjs(data)) == data


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks not available")
def test_reads_brandimarte() -> None:
    """mk01 has 10 jobs, 6 machines and 55 operations."""
    data = read_fjs(BENCH / "mk01.fjs")
    assert (data.num_jobs, data.num_resources, data.num_operations) == (10, 6, 55)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("2 3\n1 1 1 5\n", "header declares 2 jobs but the file has 1 job lines"),
        ("1 3\n2 1 1 5\n", r"line 2 \(job 0\): declares 2 operations but ends after 1"),
        ("1 3\n1 1 1 -5\n", r"line 2 \(job 0\): operation 0 has negative time -5"),
        ("1 3\n1 0\n", r"line 2 \(job 0\): operation 0 has no eligible machine"),
        ("1 3\n1 1 4 5\n", r"operation 0 names machine 4, outside 1..3"),
        ("1 3\n1 2 1 5\n", r"operation 0 declares 2 machines but the line ends early"),
        ("1 3\n1 1 1 5 9\n", r"line 2 \(job 0\): 1 extra numbers"),
        ("1 3\n1 1 x 5\n", r"line 2: 'x' is not an integer"),
        ("1 3\n1 2 1 5 1 6\n", "lists machine 1 twice"),
    ],
)
def test_bad_input_names_the_line(text: str, message: str) -> None:
    """Each malformed file is rejected with a message naming the line (and job)."""
    with pytest.raises(FjsFormatError, match=message):
        parse_fjs(text)
