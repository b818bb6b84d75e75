"""What connectors hand samples to: the ingest pipeline, seen from outside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from indunet.core import IndunetError
from indunet.telemetry.samples import Sample


class Overloaded(IndunetError):
    """The on-disk buffer is full: the caller must not acknowledge, and should retry later."""

    code = "ingest_overloaded"
    status = 503


class SampleSink(Protocol):
    """Accepts samples and bad payloads from connectors."""

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        """Return once every sample is durable: stored, buffered on disk, or dead-lettered.

        Samples that fail validation against the device model (unknown point, wrong type,
        out of range) become dead letters; they do not make ``submit`` fail. Raises
        ``Overloaded`` when the buffer bound is reached; then nothing was accepted.
        ``source`` names the connector (``mqtt``, ``modbus``, ``opcua``, ``http``).
        """

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        kind: str = "undecodable",
        why: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        """Record a payload that could not be decoded at all as a dead letter.

        ``reason`` is the detail a user reads (English, as the API shows it); ``kind`` the
        dead letter's reason code, one of ``REASONS`` (``forbidden_topic`` for a publish
        outside the device's rights); ``why`` and ``params``, when given, name the detail
        stably so the console can say it in the reader's language (``checks.said``).
        """
