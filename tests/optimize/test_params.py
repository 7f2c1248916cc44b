"""Solver parameters load from TOML and reject unknown keys."""

from pathlib import Path

import pytest

from sharefab.optimize.params import SolveParams


def test_from_file(tmp_path: Path) -> None:
    """Nested tables map onto the parameter dataclasses."""
    path = tmp_path / "p.toml"
    path.write_text("heuristic_starts = 3\n[tabu]\ntenure_span = 7\n[cpsat]\nload_bounds = false\n")
    params = SolveParams.from_file(path)
    assert params.heuristic_starts == 3
    assert params.tabu.tenure_span == 7
    assert params.cpsat.load_bounds is False


def test_unknown_key_is_rejected() -> None:
    """A typo in a parameter name is an error, not silently ignored."""
    with pytest.raises(ValueError, match="tenure_spam"):
        SolveParams.from_dict({"tabu": {"tenure_spam": 1}})
