"""Retrying dead letters after a fix (a new model version, a device registered at last).

Each chosen letter that holds a sample (device, point, and the ``{"ts", "value",
"quality"}`` text ``checks.sample_text`` wrote) goes through the pipeline's checks again with
its device's current model. Samples that pass are stored through the pipeline (durably, as
any ingest) and their letters removed; the others stay, with the reason they fail for now.
Letters of payloads (undecodable, forbidden topic) hold no sample and are left as they are.

Who may retry: one who may change the device (``core.access``). A letter written for an
earlier owner of a device id (the device was deleted and the id registered again) is never
written into the new owner's device: it is left, counted as skipped. Storing is idempotent
(a sample already stored is ignored), so a retry interrupted half-way can be run again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from indunet.core import InvalidInput, NotFound, User, access
from indunet.devices import Device
from indunet.telemetry.deadletters import DeadLetter, LetterFilter
from indunet.telemetry.pipeline import Pipeline
from indunet.telemetry.samples import Sample

MAX_RETRY = 1000
"""Letters one retry takes at most (the oldest first); run it again for more."""


@dataclass(frozen=True, slots=True)
class RetryReport:
    """What a retry did: letters stored (and removed), failed again, and left untouched."""

    stored: int
    failed: int
    skipped: int
    reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (also the audit entry's detail)."""
        return {
            "stored": self.stored,
            "failed": self.failed,
            "skipped": self.skipped,
            "reasons": self.reasons,
        }


def sample_of(letter: DeadLetter) -> Sample | None:
    """The sample a letter holds, or None for a payload letter (or an unreadable one)."""
    if letter.device is None or letter.point is None:
        return None
    try:
        body = json.loads(letter.payload)
    except ValueError:
        return None
    if not isinstance(body, dict) or "ts" not in body or "value" not in body:
        return None
    return Sample(letter.device, letter.point, body["ts"], body["value"], body.get("quality", 0))


def _check_devices(
    user: User, letters: list[DeadLetter], lookup: Callable[[str], Device | None]
) -> dict[str, Device | None]:
    """The current device of every letter, once ``user`` may change each of them."""
    devices: dict[str, Device | None] = {}
    for letter in letters:
        name = letter.device
        if name is None or name in devices:
            continue
        device = lookup(name)
        owner = device.enterprise_id if device is not None else letter.enterprise_id
        access.check_change(user, owner, f"device {name}")
        devices[name] = device
    return devices


Failed = list[tuple[int, str, str, int | None, str | None, dict[str, str] | None]]
"""Letters that fail again: (id, new reason, new detail, enterprise of the device now, the
new detail's stable name and parameters)."""


def _sort(
    pipeline: Pipeline, letters: list[DeadLetter], devices: dict[str, Device | None]
) -> tuple[dict[str, list[tuple[int, Sample]]], Failed, int]:
    """The samples that now pass (by source), the letters that fail again, and how many
    letters were left untouched (payloads, an earlier owner's)."""
    passed: dict[str, list[tuple[int, Sample]]] = defaultdict(list)
    failed: Failed = []
    skipped = 0
    for letter in letters:
        sample = sample_of(letter)
        current = devices.get(letter.device or "")
        stale = (
            current is not None
            and letter.enterprise_id is not None
            and letter.enterprise_id != current.enterprise_id
        )
        if sample is None or stale:
            skipped += 1
            continue
        valid, bad = pipeline.checks.split([sample], letter.source)
        if valid:
            passed[letter.source].append((letter.id, valid[0]))
        else:
            owner = current.enterprise_id if current is not None else letter.enterprise_id
            if bad:
                why = bad[0]
                failed.append((letter.id, why.reason, why.detail, owner, why.why, dict(why.params)))
            else:
                failed.append((letter.id, letter.reason, "", owner, None, None))
    return passed, failed, skipped


async def retry_letters(
    pipeline: Pipeline,
    user: User,
    lookup: Callable[[str], Device | None],
    *,
    ids: Collection[int] | None = None,
    device: str | None = None,
    run: Callable[..., Any],
) -> RetryReport:
    """Re-submit the letters ``ids`` (or every letter of ``device``, up to ``MAX_RETRY``)
    that ``user`` sees; ``run(fn, *args)`` runs blocking calls off the event loop."""
    if ids is None and device is None:
        raise InvalidInput(
            "choose letters or a device to retry", reason="retry_nothing_chosen", params={}
        )
    if ids is not None and len(ids) > MAX_RETRY:
        raise InvalidInput(
            f"at most {MAX_RETRY} letters per retry, not {len(ids)}",
            reason="retry_too_many",
            params={"max": MAX_RETRY, "count": len(ids)},
        )
    scope = None if access.sees_all(user) else access.scope(user)
    chosen = LetterFilter(enterprise_id=scope, device=device)
    letters: list[DeadLetter] = await run(pipeline.dead_letters.chosen, chosen, ids, MAX_RETRY)
    if not letters:
        what = f"device {device}" if device is not None else "the chosen ids"
        raise NotFound(f"no dead letters of {what} to retry", reason="retry_none_found", params={})
    devices = await run(_check_devices, user, letters, lookup)
    for name in devices:
        pipeline.invalidate(name)  # the model may have changed a moment ago
    passed, failed, skipped = await run(_sort, pipeline, letters, devices)
    reasons: dict[str, int] = defaultdict(int)
    for _, reason, *_ in failed:
        reasons[reason] += 1
    stored_ids: list[int] = []
    for source, rows in passed.items():
        await pipeline.ingest([s for _, s in rows], source=source)  # durable when it returns
        stored_ids += [letter_id for letter_id, _ in rows]
    report = RetryReport(len(stored_ids), len(failed), skipped, dict(reasons))
    target = f"device:{device}" if device is not None else "dead-letters"
    detail = report.to_dict() | {"letters": len(letters)}
    await run(
        lambda: pipeline.dead_letters.settle(
            stored_ids, failed, actor=user.actor, target=target, detail=detail
        )
    )
    return report
