"""Units from minutes: the CMS total-time method and the per-code method."""

from __future__ import annotations

from collections.abc import Sequence

UNIT_MINUTES = 15
MIN_MINUTES = 8


def cms_total_units(total_minutes: int) -> int:
    """Units the whole visit's timed minutes support: 8-22 = 1, 23-37 = 2, ... then +1 per 15 minutes."""
    if total_minutes < MIN_MINUTES:
        return 0
    return (total_minutes - MIN_MINUTES) // UNIT_MINUTES + 1


def units_cms(minutes: Sequence[int]) -> list[int]:
    """Units per timed code under the CMS method, in input order.

    The total timed minutes decide the total units; each code first gets its whole
    15-minute units, then the units left over go one each to the codes with the most
    minutes left over (ties: the earlier code). A code may end with 0 units.
    """
    mins = [max(0, int(m)) for m in minutes]
    total_units = cms_total_units(sum(mins))
    units = [m // UNIT_MINUTES for m in mins]
    remaining = total_units - sum(units)
    order = sorted(range(len(mins)), key=lambda i: (-(mins[i] % UNIT_MINUTES), i))
    for i in order:
        if remaining <= 0:
            break
        if mins[i] % UNIT_MINUTES == 0:
            break
        units[i] += 1
        remaining -= 1
    return units


def units_for_code(minutes: int) -> int:
    """Units one timed code earns alone: a unit per whole 15 minutes, one more if 8 or more remain."""
    m = max(0, int(minutes))
    return m // UNIT_MINUTES + (1 if m % UNIT_MINUTES >= MIN_MINUTES else 0)


def units_per_code(minutes: Sequence[int]) -> list[int]:
    """Units per timed code under the per-code method, in input order."""
    return [units_for_code(m) for m in minutes]


def units_for_method(method: str, minutes: Sequence[int]) -> list[int]:
    if method == "cms":
        return units_cms(minutes)
    if method == "per_code":
        return units_per_code(minutes)
    raise ValueError(f"unknown billing method {method!r}")
