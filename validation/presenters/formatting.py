"""Number formatting for the pages: a change with its sign."""

from __future__ import annotations

from django.utils.formats import number_format

from validation.analysis.comparison import SAME


def signed(
    value: float | int | None,
    digits: int = 3,
    *,
    undefined: str = "—",
    rounded_zero: str | None = None,
) -> str:
    """A change with its sign: "+0.052", "−3" (a whole number without digits), "0" unsigned.

    `undefined` is what None prints; with `rounded_zero` ("±0") a change that rounds to zero at
    these digits prints that instead of "+0.000".
    """
    if value is None:
        return undefined
    if rounded_zero is not None and abs(value) < 0.5 * 10**-digits:
        return rounded_zero
    if isinstance(value, int):
        text = number_format(abs(value))
    else:
        text = number_format(abs(value), digits)
    if abs(value) <= SAME:
        return text
    return ("+" if value > 0 else "−") + text
