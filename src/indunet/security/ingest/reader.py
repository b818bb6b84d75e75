"""One reader per log stream: the format's parser with what it needs to remember (a Zeek
TSV header), turning numbered lines into events or ``LineError``s.

``Reader.lines(raws, first)`` is what the file tail calls for a chunk of lines,
``Reader.line(raw, number)`` what the syslog listeners call for one; ``read_text`` reads a
whole text (the HTTP endpoint, the CLI, tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, tzinfo

from ..events import SecurityEvent
from . import eve, syslog, zeekmap
from .common import FORMATS, MAX_LINE, BadLine, LineError, event_id
from .zeek import ZeekTsv, path_of_file, zeek_json


class Reader:
    """Lines of one stream (a file, a connection, a request body) in one format."""

    def __init__(
        self,
        fmt: str,
        file: str,
        *,
        observer: str = "",
        enterprise_id: int | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown log format {fmt!r}; one of {', '.join(FORMATS)}")
        self.fmt = fmt
        self.file = file
        self.observer = observer or file
        self._syslog_observer = observer  # syslog: the sending host when not named
        self.enterprise_id = enterprise_id
        self.zone = zone
        self.path = path_of_file(file)
        self._tsv = ZeekTsv(self.path) if fmt == "zeek" else None
        self._eve = fmt == "eve"
        self._clock = eve.Clock()

    def lines(
        self, raws: Sequence[bytes | str], first: int
    ) -> tuple[list[SecurityEvent], list[LineError]]:
        """The events of ``raws`` (lines numbered from ``first``) and the lines that did not
        read."""
        if self._eve:
            return eve.read_lines(
                raws, first, self.file, self.observer, self.enterprise_id, self._clock
            )
        events: list[SecurityEvent] = []
        errors: list[LineError] = []
        for number, raw in enumerate(raws, first):
            try:
                event = self.line(raw, number)
            except LineBroken as exc:
                errors.append(exc.error)
                continue
            if event is not None:
                events.append(event)
        return events, errors

    def line(self, raw: bytes | str, number: int, peer: str | None = None) -> SecurityEvent | None:
        """The event of line ``number``; None for a line without one (a header, a blank
        line); ``LineError`` (raised as ``BadLine`` with the place) for a bad line."""
        if len(raw) > MAX_LINE:
            raise LineBroken(LineError(self.file, number, f"over {MAX_LINE:,} bytes", True))
        if self._eve:
            events, errors = self.lines((raw,), number)
            if errors:
                raise LineBroken(errors[0])
            return events[0] if events else None
        try:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            event = self._event(text.rstrip("\r\n"), peer)
        except BadLine as exc:
            raise LineBroken(LineError(self.file, number, str(exc))) from None
        if event is not None and self.enterprise_id is not None:
            event = replace(event, enterprise_id=self.enterprise_id)
        return event

    def _event(self, text: str, peer: str | None) -> SecurityEvent | None:
        if not text.strip():
            return None
        if self._tsv is not None:
            found = self._tsv.line(text)
            if found is None:
                return None
            path, record = found
            return zeekmap.to_event(
                path, record, observer=self.observer, eid=event_id("zeek", text)
            )
        if self.fmt == "zeek-json":
            path, record = zeek_json(text, self.path)
            return zeekmap.to_event(
                path, record, observer=self.observer, eid=event_id("zeek", text)
            )
        return syslog.parse(
            text,
            observer=self._syslog_observer,
            eid=event_id("syslog", text),
            zone=self.zone,
            peer=peer,
        )


class LineBroken(Exception):
    """A line that did not read, with its place."""

    def __init__(self, error: LineError) -> None:
        super().__init__(str(error))
        self.error = error


def read_text(
    fmt: str,
    text: str,
    file: str,
    *,
    observer: str = "",
    enterprise_id: int | None = None,
) -> tuple[list[SecurityEvent], list[LineError]]:
    """Every event of ``text`` and every line that did not read (numbered from 1)."""
    reader = Reader(fmt, file, observer=observer, enterprise_id=enterprise_id)
    return reader.lines(text.splitlines(), 1)
