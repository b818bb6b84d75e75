"""DNP3 (IEEE 1815) over TCP and UDP 20000: link frames (0x0564, length, control, addresses,
a CRC over the header and one after every 16 bytes of user data, all checked), the
transport header (fragments reassembled, bounded), and the application header: function code,
sequence, object headers, and on responses the internal indications (IIN). Requests pair with
responses by application sequence number; unsolicited responses stand alone."""

from __future__ import annotations

from typing import Any

from .base import Counts, Endpoints, Malformed, Pending, ProtocolSpec
from .records import Transaction

FUNCTIONS = {
    0: "confirm", 1: "read", 2: "write", 3: "select", 4: "operate", 5: "direct_operate",
    6: "direct_operate_no_ack", 7: "immediate_freeze", 8: "immediate_freeze_no_ack",
    9: "freeze_clear", 10: "freeze_clear_no_ack", 11: "freeze_at_time",
    12: "freeze_at_time_no_ack", 13: "cold_restart", 14: "warm_restart",
    15: "initialize_data", 16: "initialize_application", 17: "start_application",
    18: "stop_application", 19: "save_configuration", 20: "enable_unsolicited",
    21: "disable_unsolicited", 22: "assign_class", 23: "delay_measure",
    24: "record_current_time", 25: "open_file", 26: "close_file", 27: "delete_file",
    28: "get_file_info", 29: "authenticate_file", 30: "abort_file", 31: "activate_config",
    32: "authenticate_request", 33: "authenticate_request_no_ack",
    129: "response", 130: "unsolicited_response", 131: "authenticate_response",
}  # fmt: skip
#: Functions that change the outstation: writes, controls, restarts, application and file
#: changes, configuration.
WRITES = frozenset({2, 3, 4, 5, 6, 9, 10, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24, 25, 27,
                    29, 31})  # fmt: skip
IIN1 = ("broadcast", "class1_events", "class2_events", "class3_events", "need_time",
        "local_control", "device_trouble", "device_restart")  # fmt: skip
IIN2 = ("no_func_code_support", "object_unknown", "parameter_error", "event_buffer_overflow",
        "already_executing", "config_corrupt", "reserved_2", "reserved_1")  # fmt: skip
#: Bytes an application fragment may grow to across transport segments.
MAX_FRAGMENT = 4096


def _table() -> list[int]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
        out.append(crc)
    return out


_CRC = _table()


def crc(data: bytes | bytearray) -> int:
    """DNP3's CRC-16 (polynomial 0x3D65, reflected, complemented)."""
    value = 0
    for b in data:
        value = (value >> 8) ^ _CRC[(value ^ b) & 0xFF]
    return ~value & 0xFFFF


def pdu_length(buf: bytes | bytearray, off: int) -> int:
    if len(buf) - off < 3:
        return 0
    if buf[off] != 0x05 or buf[off + 1] != 0x64 or buf[off + 2] < 5:
        return -1
    user = buf[off + 2] - 5
    return 10 + user + 2 * ((user + 15) // 16)


def resync(buf: bytes | bytearray, off: int) -> int:
    while True:
        pos = buf.find(b"\x05\x64", off)
        if pos < 0 or pos + 10 > len(buf):
            return -1
        if buf[pos + 2] >= 5 and crc(buf[pos : pos + 8]) == buf[pos + 8] | buf[pos + 9] << 8:
            return pos
        off = pos + 1


def user_data(frame: bytes) -> bytes:
    """The frame's user data with every CRC checked; ``Malformed`` on a bad one."""
    if crc(frame[:8]) != frame[8] | frame[9] << 8:
        raise Malformed("bad link header CRC")
    out = bytearray()
    pos = 10
    while pos < len(frame):
        block = frame[pos : min(pos + 16, len(frame) - 2)]
        end = pos + len(block)
        if end + 2 > len(frame) or crc(block) != frame[end] | frame[end + 1] << 8:
            raise Malformed(f"bad user data CRC at byte {pos}")
        out += block
        pos = end + 2
    return bytes(out)


class Dnp3Session:
    __slots__ = ("counts", "ends", "fragments", "pending")

    def __init__(self, ends: Endpoints, counts: Counts) -> None:
        self.ends = ends
        self.counts = counts
        self.pending = Pending()
        self.fragments: dict[bool, bytearray] = {}

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        if len(data) < 10:
            raise Malformed("link frame cut short")
        control = data[3]
        dst, src = data[4] | data[5] << 8, data[6] | data[7] << 8
        payload = user_data(data)
        if not payload:
            return []  # link-layer only (reset link, link status…)
        if not control & 0x40 or (control & 0x0F) not in (3, 4):
            return []  # secondary frames and link services carry no application data
        transport = payload[0]
        part = self.fragments.get(to_server)
        if transport & 0x40:  # FIR: a new fragment starts
            part = bytearray()
            self.fragments[to_server] = part
        if part is None:
            self.counts["dnp3.orphan_segments"] = self.counts.get("dnp3.orphan_segments", 0) + 1
            return []
        part += payload[1:]
        if len(part) > MAX_FRAGMENT:
            del self.fragments[to_server]
            raise Malformed(f"application fragment over {MAX_FRAGMENT} bytes")
        if not transport & 0x80:  # not FIN: wait for the rest
            return []
        del self.fragments[to_server]
        return self._application(ts, to_server, dst, src, bytes(part))

    def _application(
        self, ts: float, to_server: bool, dst: int, src: int, app: bytes
    ) -> list[Transaction]:
        if len(app) < 2:
            raise Malformed("application header cut short")
        seq, fc = app[0] & 0x0F, app[1]
        name = FUNCTIONS.get(fc, f"function_{fc}")
        if fc < 128:
            if not to_server:
                raise Malformed(f"request function {fc} from the outstation")
            tx = self.ends.tx(ts, "dnp3", fc, name, write=fc in WRITES, unit=dst)
            tx.details["source"] = src
            tx.details["sequence"] = seq
            _objects(tx, app[2:])
            if fc == 0:
                return [tx]  # confirms are not answered
            return self.pending.put(seq, tx)
        if len(app) < 4:
            raise Malformed("response without IIN")
        if fc == 130:
            tx = self.ends.tx_from_server(ts, "dnp3", fc, name, unit=dst)
            tx.details["source"] = src
        else:
            found = self.pending.take(seq)
            if found is None:
                tx = self.ends.tx(ts, "dnp3", fc, name, unit=src)
                tx.details["request_seen"] = False
            else:
                tx = found
        iin = [IIN1[i] for i in range(8) if app[2] >> i & 1]
        iin += [IIN2[i] for i in range(8) if app[3] >> i & 1]
        tx.details["iin"] = iin
        if app[3] & 0x07:
            tx.status = "exception"
            tx.error = next(f for f in iin if f in IIN2[:3])
        if fc == 130:
            _objects(tx, app[4:])
        return [tx]

    def flush(self) -> list[Transaction]:
        self.fragments.clear()
        return self.pending.flush()


def _objects(tx: Transaction, raw: bytes) -> None:
    """The first object header: group, variation, qualifier, range (cheap)."""
    if len(raw) < 3:
        return
    group, variation, qualifier = raw[0], raw[1], raw[2]
    obj: dict[str, Any] = {"group": group, "variation": variation, "qualifier": qualifier}
    code = qualifier & 0x0F
    if code == 0 and len(raw) >= 5:
        tx.address, tx.count = raw[3], raw[4] - raw[3] + 1
    elif code == 1 and len(raw) >= 7:
        start, stop = raw[3] | raw[4] << 8, raw[5] | raw[6] << 8
        tx.address, tx.count = start, stop - start + 1
    elif code == 7 and len(raw) >= 4:
        tx.count = raw[3]
    elif code == 8 and len(raw) >= 5:
        tx.count = raw[3] | raw[4] << 8
    tx.details["object"] = obj


SPEC = ProtocolSpec(
    name="dnp3",
    tcp_ports=(20000,),
    udp_ports=(20000,),
    pdu_length=pdu_length,
    resync=resync,
    session=Dnp3Session,
    max_pdu=292,
)
