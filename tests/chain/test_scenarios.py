"""Price scenarios of the local publisher (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.scenarios import Crash, RandomWalk, ScenarioError, load_csv


def test_random_walk_is_seeded_and_independent_of_how_it_is_sampled() -> None:
    a, b = RandomWalk(100_000_000, seed=7), RandomWalk(100_000_000, seed=7)
    dense = [a.price_at(t / 10) for t in range(0, 600)]
    assert [b.price_at(t) for t in range(60)] == dense[::10]
    assert a.price_at(0) == 100_000_000
    assert len(set(dense)) > 1 and min(dense) > 0
    assert RandomWalk(100_000_000, seed=8).price_at(30) != a.price_at(30)


def test_crash_falls_linearly_then_holds() -> None:
    c = Crash(100_000_000, drop_pct=30, over_s=10, after_s=5)
    assert [c.price_at(t) for t in (0, 5, 10, 15, 100)] == [
        100_000_000, 100_000_000, 85_000_000, 70_000_000, 70_000_000]


@pytest.mark.parametrize("kwargs", [
    {"drop_pct": 0, "over_s": 1}, {"drop_pct": 100, "over_s": 1}, {"drop_pct": 10, "over_s": 0},
])
def test_crash_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ScenarioError):
        Crash(100_000_000, **kwargs)  # type: ignore[arg-type]


def test_replay_steps_through_the_csv(tmp_path: Path) -> None:
    f = tmp_path / "btc.csv"
    f.write_text("seconds,price\n0,64250.5\n2,64000\n5,60000.000001\n")
    r = load_csv(f)
    assert [r.price_at(t) for t in (0, 1.9, 2, 4, 5, 99)] == [
        64_250_500_000, 64_250_500_000, 64_000_000_000, 64_000_000_000, 60_000_000_001,
        60_000_000_001]


@pytest.mark.parametrize(("content", "message"), [
    ("time,price\n0,1\n", "header"),
    ("seconds,price\n0,abc\n", ":2: not numbers"),
    ("seconds,price\n0,1\n1,-5\n", ":3: seconds must be >= 0, price > 0"),
    ("seconds,price\n5,1\n1,2\n", "time order"),
    ("seconds,price\n", "no price points"),
])
def test_replay_refuses_a_bad_file_saying_where(tmp_path: Path, content: str,
                                                 message: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(ScenarioError, match=message):
        load_csv(f)


def test_replay_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="No such file"):
        load_csv(tmp_path / "missing.csv")
