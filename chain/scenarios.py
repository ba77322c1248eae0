"""Price paths for the local price publisher: a random walk, a scripted crash, a CSV replay.

A scenario answers one question, the price (6 decimals) at `t_s` seconds after the publisher
started, so the same scenario gives the same path whatever the publishing interval.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Scenario(Protocol):
    def price_at(self, t_s: float) -> int:
        """The price in quote per whole base unit, 6 decimals, at t_s >= 0."""


class ScenarioError(ValueError):
    """A scenario's settings or file is unusable; the message says what and where."""


@dataclass
class RandomWalk:
    """Each `step_s` the price moves by a normal draw of `volatility_bps` (seeded)."""

    start_e6: int
    volatility_bps: float = 20.0
    step_s: float = 1.0
    seed: int = 0
    _path: list[int] = field(default_factory=list, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.start_e6 <= 0 or self.step_s <= 0 or self.volatility_bps < 0:
            raise ScenarioError("random walk: start and step must be positive, volatility >= 0")
        self._rng = random.Random(self.seed)
        self._path.append(self.start_e6)

    def price_at(self, t_s: float) -> int:
        step = int(max(0.0, t_s) // self.step_s)
        while len(self._path) <= step:
            move = self._rng.gauss(0.0, self.volatility_bps / 10_000)
            self._path.append(max(1, round(self._path[-1] * math.exp(move))))
        return self._path[step]


@dataclass(frozen=True)
class Crash:
    """Flat at `start_e6`, then from `after_s` a straight fall of `drop_pct` percent over
    `over_s` seconds, then flat at the bottom."""

    start_e6: int
    drop_pct: float
    over_s: float
    after_s: float = 0.0

    def __post_init__(self) -> None:
        if self.start_e6 <= 0 or not 0 < self.drop_pct < 100 or self.over_s <= 0 \
                or self.after_s < 0:
            raise ScenarioError("crash: start > 0, 0 < drop_pct < 100, over_s > 0, after_s >= 0")

    def price_at(self, t_s: float) -> int:
        progress = min(1.0, max(0.0, (t_s - self.after_s) / self.over_s))
        return max(1, round(self.start_e6 * (1 - self.drop_pct / 100 * progress)))


@dataclass(frozen=True)
class Replay:
    """Prices from (seconds, price_e6) points: each holds until the next; the last holds."""

    points: tuple[tuple[float, int], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ScenarioError("replay: no price points")
        times = [t for t, _ in self.points]
        if times != sorted(times):
            raise ScenarioError("replay: points must be in time order")

    def price_at(self, t_s: float) -> int:
        price = self.points[0][1]
        for at, p in self.points:
            if at > t_s:
                break
            price = p
        return price


def load_csv(path: Path) -> Replay:
    """A replay from a CSV file with a header `seconds,price` (price as a decimal number of
    quote units, e.g. 64250.5). Raises ScenarioError naming the file and line of a bad row."""
    points: list[tuple[float, int]] = []
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or {"seconds", "price"} - set(reader.fieldnames):
                raise ScenarioError(f"{path}: the header must name the columns seconds,price")
            for row in reader:
                line = reader.line_num
                try:
                    seconds, price = float(row["seconds"]), float(row["price"])
                except (TypeError, ValueError):
                    raise ScenarioError(f"{path}:{line}: not numbers: {row}") from None
                if seconds < 0 or price <= 0 or not math.isfinite(price):
                    raise ScenarioError(f"{path}:{line}: seconds must be >= 0, price > 0")
                points.append((seconds, round(price * 1_000_000)))
    except OSError as e:
        raise ScenarioError(f"{path}: {e.strerror}") from None
    try:
        return Replay(tuple(points))
    except ScenarioError as e:
        raise ScenarioError(f"{path}: {e}") from None
