"""Claims a notebook's prose makes, checked by the cell that computes them.

``check(holds, claim, **numbers)`` prints the claim with the numbers it rests on and raises
:class:`ClaimFailed` when it does not hold, so a notebook run (nbval included) stops at the
first claim its results no longer support.

Some claims need the full-size run (CNNs trained on 6,000 images, 100 test images). Marked
``full_size=True``, they are still computed and printed at a smaller profile, but a miss there
is reported as unchecked instead of raised; ``make notebooks`` stores the outputs at full size,
where any claim that misses raises, and ``tests/test_notebook_claims.py`` reads them back.
"""
from numbers import Real

from . import profiles

HOLDS = "✔ claim holds:"
UNCHECKED = "… claim unchecked at this size (it needs the full-size run):"


class ClaimFailed(AssertionError):
    """A claim stated by a notebook does not hold for the numbers just computed."""


def _value(number) -> str:
    number = number.item() if hasattr(number, "item") else number
    if isinstance(number, Real) and not isinstance(number, (bool, int)):
        return f"{number:.3g}"
    return str(number)


def check(holds, claim: str, *, full_size: bool = False, **numbers) -> None:
    """Print ``claim`` with ``numbers`` and raise :class:`ClaimFailed` unless ``holds``.

    Parameters
    ----------
    holds
        The claim's truth as computed (a bool, or a one-element tensor or array).
    claim
        The claim in words, as the prose states it.
    full_size
        The claim needs the full-size run: below it (``$XAI_GAN_PROFILE`` other than
        ``full``) a miss prints :data:`UNCHECKED` instead of raising.
    **numbers
        The values the claim rests on, printed beside it (floats to 3 significant digits).

    It returns nothing, so a notebook cell that ends with a check shows only the printed claim.
    """
    holds = bool(holds.item() if hasattr(holds, "item") else holds)
    shown = ", ".join(f"{name} = {_value(value)}" for name, value in numbers.items())
    line = f"{claim} ({shown})" if shown else claim
    if holds:
        print(f"{HOLDS} {line}")
    elif full_size and profiles.profile_name() != "full":
        print(f"{UNCHECKED} {line}")
    else:
        raise ClaimFailed(f"claim does not hold: {line}")
