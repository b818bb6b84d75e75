"""What a storable sample is, and the errors that name the first bad one of a batch.

The stores check samples inline on their fast paths; when something is off they call
``check_samples`` to find and explain it, so every backend rejects the same batches with the
same messages and writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from indunet.core import InvalidInput
from indunet.telemetry.samples import BAD, GOOD, UNCERTAIN, Sample

QUALITIES = (GOOD, UNCERTAIN, BAD)
MAX_TS = 2**53
"""Timestamps are milliseconds in ``[0, 2**53)``: exact in every backend and in JSON."""
MAX_INT = 2**63
MAX_NAME = 200


def sample_problem(sample: object) -> str | None:
    """Why ``sample`` cannot be stored, or None when it can."""
    if not isinstance(sample, tuple) or len(sample) != 5:
        return f"{sample!r} is not a Sample(device, point, ts, value, quality)"
    device, point, ts, value, quality = sample
    for name, text in (("device", device), ("point", point)):
        if not isinstance(text, str) or not text or len(text) > MAX_NAME or "\x00" in text:
            return (
                f"{name} must be a non-empty string of at most {MAX_NAME} characters"
                f" without NUL, not {text!r}"
            )
    if type(ts) is not int or not 0 <= ts < MAX_TS:
        return f"ts must be integer milliseconds since 1970 in [0, 2**53), not {ts!r}"
    if type(value) is float:
        if not math.isfinite(value):
            return f"value is {value}; send a finite number, or no sample"
    elif type(value) is int:
        if not -MAX_INT <= value < MAX_INT:
            return f"integer value {value} does not fit in 64 bits"
    elif type(value) is str:
        if "\x00" in value:
            return "string value contains NUL (\\x00), which PostgreSQL cannot store"
    elif type(value) is not bool:
        return f"value must be a number, boolean or string, not {type(value).__name__}"
    if type(quality) is not int or quality not in QUALITIES:
        return f"quality must be GOOD (0), UNCERTAIN (1) or BAD (2), not {quality!r}"
    return None


def check_samples(samples: Sequence[Sample]) -> None:
    """Raise ``InvalidInput`` naming the first sample that cannot be stored."""
    for i, sample in enumerate(samples):
        problem = sample_problem(sample)
        if problem is not None:
            where = ""
            if isinstance(sample, tuple) and len(sample) == 5:
                where = f" ({sample[0]}/{sample[1]} at {sample[2]!r})"
            raise InvalidInput(
                f"sample {i}{where}: {problem}; nothing of this batch was stored",
                detail={"index": i},
            )
