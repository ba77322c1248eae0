"""The demo's closing table: one column of labels, the counts right-aligned under their
headers whatever the labels' lengths (the oracle kinds' rows are the longest)."""

from __future__ import annotations

from collections import Counter

from demo.report import SUMMARY, Summary


def test_every_row_lines_up_under_the_headers() -> None:
    counts = Counter({name: 7 for _, name in SUMMARY})
    summary = Summary(counts, counts, 0, 0, {"legacy Pyth": (3, 3), "PriceUpdateV2": (4, 4)})
    *rows, verdict = summary.text().splitlines()
    assert len({len(row) for row in rows}) == 1, rows
    header, *counted = rows
    for row in counted:
        label = row[:len(row) - 20].rstrip()
        assert row[:len(label)] == label and row[len(label):len(row) - 20].strip() == ""
    assert [row[-20:].split() for row in counted][-1] == ["4", "4"]
    assert header.endswith("   indexed  on chain") and verdict.startswith("checked")
