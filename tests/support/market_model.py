"""An independent model of the market's pool in Python integers, to check the program."""

from __future__ import annotations


def fee(amount: int, bps: int) -> int:
    return -(-amount * bps // 10_000)


def buy(bought: int, other: int, amount: int) -> tuple[int, int, int]:
    """(shares out, new bought reserve, new other reserve) for `amount` net quote."""
    k = bought * other
    new_other = other + amount
    new_bought = -(-k // new_other)
    return bought + amount - new_bought, new_bought, new_other


def sell(sold: int, other: int, shares: int) -> tuple[int, int, int]:
    """(quote out before fee, new sold reserve, new other reserve): the largest r with
    (sold + shares - r)(other - r) >= sold * other, by binary search."""
    k = sold * other
    s1 = sold + shares
    lo, hi = 0, min(s1, other)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (s1 - mid) * (other - mid) >= k:
            lo = mid
        else:
            hi = mid - 1
    return lo, s1 - lo, other - lo
