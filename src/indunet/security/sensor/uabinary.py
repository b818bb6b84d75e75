"""Just enough of OPC UA's binary encoding (Part 6 §5.2) to read service headers, node ids
and scalar values; every read is bounded by the bytes there are."""

from __future__ import annotations

import struct
from typing import Any

from .base import MAX_TEXT, MAX_VALUES, Malformed

_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_NS_U32 = struct.Struct("<HI").unpack_from
_SCALARS: dict[int, struct.Struct] = {
    1: struct.Struct("<?"),
    2: struct.Struct("<b"),
    3: struct.Struct("<B"),
    4: struct.Struct("<h"),
    5: struct.Struct("<H"),
    6: struct.Struct("<i"),
    7: struct.Struct("<I"),
    8: struct.Struct("<q"),
    9: struct.Struct("<Q"),
    10: struct.Struct("<f"),
    11: struct.Struct("<d"),
    13: struct.Struct("<q"),  # DateTime: 100 ns ticks since 1601
    19: struct.Struct("<I"),  # StatusCode
}


class Unsupported(Exception):
    """A value this reader does not decode (the rest of the message is left alone)."""


class Reader:
    """A cursor over one message body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise Malformed(f"field of {n} bytes runs past the message end")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def u8(self) -> int:
        v: int = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        v: int = _U16(self.data, self.pos)[0]
        self.pos += 2
        return v

    def u32(self) -> int:
        v: int = _U32(self.data, self.pos)[0]
        self.pos += 4
        return v

    def i32(self) -> int:
        v: int = _I32(self.data, self.pos)[0]
        self.pos += 4
        return v

    def skip(self, n: int) -> None:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise Malformed(f"field of {n} bytes runs past the message end")
        self.pos = end

    def string(self) -> str | None:
        data, pos = self.data, self.pos + 4
        n: int = _I32(data, self.pos)[0]
        if n < 0:
            self.pos = pos
            return None
        end = pos + n
        if end > len(data):
            raise Malformed(f"string of {n} bytes runs past the message end")
        self.pos = end
        return data[pos : end if n <= MAX_TEXT else pos + MAX_TEXT].decode("utf-8", "replace")

    def bytestring(self) -> bytes | None:
        n = self.i32()
        return None if n < 0 else self.take(n)

    def count(self) -> int:
        """An array length, bounded by the bytes left (each element is at least one byte)."""
        data = self.data
        pos = self.pos + 4
        n: int = _I32(data, self.pos)[0]
        self.pos = pos
        if n > len(data) - pos:
            raise Malformed(f"array of {n} elements in {len(data) - pos} bytes")
        return n if n > 0 else 0

    def nodeid(self) -> str:
        data, pos = self.data, self.pos
        kind = data[pos]
        flags = kind & 0xC0
        kind &= 0x3F
        if kind == 0:
            out = f"i={data[pos + 1]}"
            self.pos = pos + 2
        elif kind == 1:
            ns, ident = data[pos + 1], _U16(data, pos + 2)[0]
            self.pos = pos + 4
            out = f"ns={ns};i={ident}" if ns else f"i={ident}"
        elif kind == 2:
            ns, ident = _NS_U32(data, pos + 1)
            self.pos = pos + 7
            out = f"ns={ns};i={ident}" if ns else f"i={ident}"
        elif kind == 3:
            ns = _U16(data, pos + 1)[0]
            self.pos = pos + 3
            out = _ns(ns, f"s={self.string()}")
        elif kind == 4:
            ns = _U16(data, pos + 1)[0]
            self.pos = pos + 3
            out = _ns(ns, f"g={self.take(16).hex()}")
        elif kind == 5:
            ns = _U16(data, pos + 1)[0]
            self.pos = pos + 3
            raw = self.bytestring() or b""
            out = _ns(ns, f"b={raw[:64].hex()}")
        else:
            raise Malformed(f"node id with encoding {kind}")
        if flags & 0x80:
            self.string()
        if flags & 0x40:
            self.u32()
        return out

    def skip_nodeid(self) -> None:
        """A node id passed over: the usual two- and four-byte numeric ones without making
        their text, any other (or one cut short) as ``nodeid`` reads it."""
        data, pos = self.data, self.pos
        if pos + 4 <= len(data):
            kind = data[pos]
            if kind == 0:
                self.pos = pos + 2
                return
            if kind == 1:
                self.pos = pos + 4
                return
        self.nodeid()

    def numeric_nodeid(self) -> int:
        """A namespace-0 numeric node id (a type id); -1 for any other."""
        start = self.pos
        kind = self.data[start] if start < len(self.data) else 255
        if kind == 1 and self.data[start + 1] == 0:
            self.pos += 4
            return int(_U16(self.data, start + 2)[0])
        if kind == 0:
            self.pos += 2
            return int(self.data[start + 1])
        if kind == 2 and _U16(self.data, start + 1)[0] == 0:
            self.pos += 7
            return int(_U32(self.data, start + 3)[0])
        self.skip_nodeid()
        return -1

    def extension_object(self) -> str:
        """An extension object passed over; its type id."""
        type_id = self.nodeid()
        self._extension_body()
        return type_id

    def skip_extension_object(self) -> None:
        """An extension object passed over, its type id unread."""
        self.skip_nodeid()
        self._extension_body()

    def _extension_body(self) -> None:
        enc = self.data[self.pos]
        self.pos += 1
        if enc == 1 or enc == 2:
            self.skip(max(self.i32(), 0))
        elif enc:
            raise Malformed(f"extension object with encoding {enc}")

    def diagnostic_info(self, depth: int = 0) -> None:
        if depth > 8:
            raise Malformed("diagnostic info nested too deep")
        mask = self.u8()
        if not mask:  # the usual: no diagnostics
            return
        for bit in (0x01, 0x02, 0x04, 0x08):
            if mask & bit:
                self.skip(4)
        if mask & 0x10:
            self.string()
        if mask & 0x20:
            self.skip(4)
        if mask & 0x40:
            self.diagnostic_info(depth + 1)

    def request_header(self) -> None:
        self.skip_nodeid()  # authentication token
        self.skip(16)  # timestamp, request handle, return diagnostics
        self.string()  # audit entry id
        self.skip(4)  # timeout hint
        self.skip_extension_object()

    def response_header(self) -> int:
        """Skips the header; returns the service result."""
        self.skip(12)  # timestamp, request handle
        result: int = _U32(self.data, self.pos)[0]
        self.pos += 4
        self.diagnostic_info()
        for _ in range(self.count()):
            self.string()
        self.skip_extension_object()
        return result

    def localized_text(self) -> str | None:
        mask = self.u8()
        if mask & 1:
            self.string()
        return self.string() if mask & 2 else None

    def variant(self, depth: int = 0) -> Any:
        mask = self.u8()
        kind = mask & 0x3F
        if mask & 0x80:
            n = self.count()
            values = [self._scalar(kind, depth) for _ in range(n)]
            if mask & 0x40:
                for _ in range(self.count()):
                    self.skip(4)
            return values[:MAX_VALUES]
        return self._scalar(kind, depth)

    def _scalar(self, kind: int, depth: int) -> Any:
        fmt = _SCALARS.get(kind)
        if fmt is not None:
            v = fmt.unpack_from(self.data, self.pos)[0]
            self.pos += fmt.size
            return v
        if kind == 0:
            return None
        if kind in (12, 16):
            return self.string()
        if kind == 15:
            raw = self.bytestring()
            return None if raw is None else raw[:64].hex()
        if kind == 14:
            return self.take(16).hex()
        if kind == 17:
            return self.nodeid()
        if kind == 20:
            ns = self.u16()
            return _ns(ns, self.string() or "")
        if kind == 21:
            return self.localized_text()
        if kind == 22:
            return {"extension_object": self.extension_object()}
        if kind == 24 and depth < 4:
            return self.variant(depth + 1)
        raise Unsupported(f"variant type {kind}")

    def data_value(self) -> tuple[Any, int]:
        """A DataValue's value and status code."""
        mask = self.u8()
        value = self.variant() if mask & 0x01 else None
        status = self.u32() if mask & 0x02 else 0
        if mask & 0x3C:  # timestamps and picoseconds, not kept
            for bit, size in ((0x04, 8), (0x10, 2), (0x08, 8), (0x20, 2)):
                if mask & bit:
                    self.skip(size)
        return value, status


def _ns(ns: int, ident: str) -> str:
    return f"ns={ns};{ident}" if ns else ident
