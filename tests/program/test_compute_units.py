"""The program's compute units, held to the recorded budget and the issues' targets."""

from __future__ import annotations

import pytest

from bench.cu import (
    README_PATH,
    TARGET_CU,
    load_budget,
    measure,
    measure_perps,
    readme_with_table,
    target_cu,
)
from chain.sender import FeePolicy
from jobs.liquidation import LIQUIDATE_UNITS
from program.local import LocalProtocol

# A change may move an instruction's cost this much before the budget must be re-recorded
# (`python -m bench.cu --write`), in either direction so that the file stays true.
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def measured() -> dict[str, int]:
    return measure()


def test_every_instruction_is_measured(measured: dict[str, int]) -> None:
    assert set(measured) == set(load_budget())


def test_every_instruction_is_within_its_budget(measured: dict[str, int]) -> None:
    budget = load_budget()
    drift = {name: (units, budget[name]) for name, units in measured.items()
             if abs(units - budget[name]) > TOLERANCE * budget[name]}
    assert not drift, f"compute units moved (measured, budget): {drift}"


def test_every_instruction_meets_its_target(measured: dict[str, int]) -> None:
    over = {name: (units, target_cu(name)) for name, units in measured.items()
            if units > target_cu(name)}
    assert not over, f"over the target (measured, target): {over}"


def test_every_specific_target_names_a_measured_instruction(measured: dict[str, int]) -> None:
    assert set(TARGET_CU) <= set(measured)


def test_readme_shows_the_recorded_budget() -> None:
    readme = README_PATH.read_text()
    assert readme_with_table(readme, load_budget()) == readme, "run `python -m bench.cu --write`"


def test_perp_instructions_are_within_budget_and_target() -> None:
    """The perp instructions measured on their own (a fresh deployment), so that their budget
    holds whatever the rest of the measured life does."""
    budget = load_budget()
    for name, units in measure_perps(LocalProtocol.deploy()).items():
        assert abs(units - budget[name]) <= TOLERANCE * budget[name], (name, units)
        assert units <= target_cu(name), (name, units)


def test_the_fast_paths_unsimulated_liquidation_fits_the_recorded_budget() -> None:
    """The fast path sends `liquidate` unsimulated with LIQUIDATE_UNITS: whatever the budget
    allows on either oracle kind (up to the drift tolerated above, and the liquidator's
    usual margin) must fit, or every fast liquidation would fail for want of units."""
    budget = load_budget()
    needed = max(budget[name] for name in budget if name.startswith("liquidate"))
    assert needed * (1 + TOLERANCE) * FeePolicy().limit_margin <= LIQUIDATE_UNITS
