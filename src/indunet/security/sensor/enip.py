"""EtherNet/IP: the 24-byte encapsulation header frames each message (TCP and UDP 44818).
ListIdentity answers name the device; SendRRData/SendUnitData carry CIP requests in common
packet format items: the CIP service, its EPATH (class/instance/attribute or a tag name) and,
in the answer, the general status. Requests pair with answers by command and sender context
(connected messages: by connection id)."""

from __future__ import annotations

import struct
from typing import Any

from .base import U16LE, U32LE, Counts, Endpoints, Malformed, Pending, ProtocolSpec, text
from .records import Transaction

COMMANDS = {
    0x0000: "nop",
    0x0004: "list_services",
    0x0063: "list_identity",
    0x0064: "list_interfaces",
    0x0065: "register_session",
    0x0066: "unregister_session",
    0x006F: "send_rr_data",
    0x0070: "send_unit_data",
    0x0072: "indicate_status",
    0x0073: "cancel",
}
SERVICES = {
    0x01: "get_attributes_all", 0x02: "set_attributes_all", 0x03: "get_attribute_list",
    0x04: "set_attribute_list", 0x05: "reset", 0x06: "start", 0x07: "stop", 0x08: "create",
    0x09: "delete", 0x0A: "multiple_service_packet", 0x0D: "apply_attributes",
    0x0E: "get_attribute_single", 0x10: "set_attribute_single",
    0x11: "find_next_object_instance", 0x15: "restore", 0x16: "save", 0x17: "nop",
    0x18: "get_member", 0x19: "set_member", 0x1A: "insert_member", 0x1B: "remove_member",
    0x1C: "group_sync", 0x4B: "execute_pccc", 0x4C: "read_tag", 0x4D: "write_tag",
    0x4E: "read_modify_write_tag", 0x52: "read_tag_fragmented", 0x53: "write_tag_fragmented",
    0x55: "get_instance_attribute_list",
}  # fmt: skip
#: Services of the Connection Manager object (class 6) that reuse vendor-specific codes.
CONNECTION_MANAGER = {
    0x4E: "forward_close", 0x52: "unconnected_send", 0x54: "forward_open",
    0x5B: "large_forward_open", 0x56: "get_connection_data",
}  # fmt: skip
WRITES = frozenset({0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x15, 0x16, 0x19, 0x1A,
                    0x1B, 0x4D, 0x4E, 0x53})  # fmt: skip
STATUS = {
    0x01: "connection_failure", 0x02: "resource_unavailable", 0x03: "invalid_parameter_value",
    0x04: "path_segment_error", 0x05: "path_destination_unknown", 0x06: "partial_transfer",
    0x08: "service_not_supported", 0x09: "invalid_attribute_value", 0x0C: "object_state_conflict",
    0x0E: "attribute_not_settable", 0x0F: "privilege_violation", 0x10: "device_state_conflict",
    0x13: "not_enough_data", 0x14: "attribute_not_supported", 0x15: "too_much_data",
    0x16: "object_does_not_exist", 0x1E: "embedded_service_error", 0x20: "invalid_parameter",
}  # fmt: skip
CLASSES = {0x01: "identity", 0x02: "message_router", 0x04: "assembly", 0x06: "connection_manager",
           0x37: "file", 0x8E: "time_sync", 0xF5: "tcp_ip_interface", 0xF6: "ethernet_link"}  # fmt: skip
_u16 = U16LE.unpack_from
_u32 = U32LE.unpack_from


def pdu_length(buf: bytes | bytearray, off: int) -> int:
    if len(buf) - off < 24:
        return 0
    command = buf[off] | buf[off + 1] << 8
    if command not in COMMANDS or buf[off + 20 : off + 24] != b"\x00\x00\x00\x00":
        return -1
    return 24 + (buf[off + 2] | buf[off + 3] << 8)


def resync(buf: bytes | bytearray, off: int) -> int:
    end = len(buf) - 24
    while off <= end:
        if pdu_length(buf, off) > 0:
            return off
        off += 1
    return -1


def epath(raw: bytes) -> dict[str, Any]:
    """Class/instance/attribute (logical segments), a tag name (ANSI extended symbolic)."""
    out: dict[str, Any] = {}
    pos, tags = 0, []
    while pos < len(raw):
        seg = raw[pos]
        if seg == 0x91:
            n = raw[pos + 1]
            tags.append(text(raw[pos + 2 : pos + 2 + n]))
            pos += 2 + n + (n & 1)
            continue
        kind = seg & 0xFC
        fmt = seg & 0x03
        if seg & 0xE0 == 0x20:
            names = {0x20: "class", 0x24: "instance", 0x28: "member", 0x2C: "connection_point",
                     0x30: "attribute"}  # fmt: skip
            if fmt == 0:
                value, size = raw[pos + 1], 2
            elif fmt == 1:
                value, size = _u16(raw, pos + 2)[0], 4
            else:
                value, size = _u32(raw, pos + 2)[0], 6
            name = names.get(kind)
            if name is None:
                break
            if name == "member" and tags:
                tags[-1] += f"[{value}]"
            else:
                out[name] = value
            pos += size
        elif seg & 0xE0 == 0x00:  # port segment: port, link address
            if seg & 0x10:
                n = raw[pos + 1]
                pos += 2 + n + (n & 1)
            else:
                pos += 2
        else:
            break
    if tags:
        out["tag"] = ".".join(tags)
    return out


def cip_request(raw: bytes) -> tuple[int, str, dict[str, Any], bool]:
    """A CIP request's service, name, path details and whether it writes."""
    if len(raw) < 2:
        raise Malformed("CIP request cut short")
    service, words = raw[0] & 0x7F, raw[1]
    path = epath(raw[2 : 2 + 2 * words])
    data = raw[2 + 2 * words :]
    if path.get("class") == 6 and service in CONNECTION_MANAGER:
        name = CONNECTION_MANAGER[service]
        write = False
    else:
        name = SERVICES.get(service, f"service_0x{service:02x}")
        write = service in WRITES
    details: dict[str, Any] = dict(path)
    if "class" in path:
        details["class_name"] = CLASSES.get(path["class"], f"0x{path['class']:02x}")
    if name == "unconnected_send" and len(data) >= 4:
        size = _u16(data, 2)[0]
        inner = cip_request(data[4 : 4 + size])
        service, name, inner_details, write = inner
        details["via"] = "unconnected_send"
        details.update(inner_details)
    elif service == 0x0A and len(data) >= 2 and name == "multiple_service_packet":
        count = min(_u16(data, 0)[0], 32)
        inner_names = []
        for i in range(count):
            start = _u16(data, 2 + 2 * i)[0]
            end = _u16(data, 4 + 2 * i)[0] if i + 1 < count else len(data)
            _, iname, idet, iw = cip_request(data[start:end])
            inner_names.append(iname + (f" {idet['tag']}" if "tag" in idet else ""))
            write = write or iw
        details["services"] = inner_names
    return service, name, details, write


class EnipSession:
    __slots__ = ("counts", "ends", "pending")

    def __init__(self, ends: Endpoints, counts: Counts) -> None:
        self.ends = ends
        self.counts = counts
        self.pending = Pending()

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        tx: Transaction | None
        command, length, session, status = struct.unpack_from("<HHII", data, 0)
        context = data[12:20]
        body = data[24 : 24 + length]
        name = COMMANDS.get(command, f"command_0x{command:04x}")
        if to_server:
            tx = self.ends.tx(ts, "enip", command, name)
            tx.details["session"] = session
            if command in (0x6F, 0x70):
                self._cip(tx, body, request=True)
            key = (command, context) if command != 0x70 else (command, tx.details.get("sequence"))
            return self.pending.put(key, tx)
        key = (command, context) if command != 0x70 else (command, _sequence(body))
        tx = self.pending.take(key)
        if tx is None:
            tx = self.ends.tx(ts, "enip", command, name)
            tx.details["request_seen"] = False
        if status:
            tx.status, tx.error = "exception", f"encapsulation_status_0x{status:x}"
        elif command == 0x63:
            _identity(tx, body)
        elif command == 0x65 and len(body) >= 4:
            tx.details["session"] = session
        elif command in (0x6F, 0x70):
            self._cip(tx, body, request=False)
        return [tx]

    def _cip(self, tx: Transaction, body: bytes, request: bool) -> None:
        items = _cpf(body)
        for kind, raw in items:
            if kind == 0xA1 and len(raw) >= 4:
                tx.details["conn"] = _u32(raw, 0)[0]
            elif kind in (0xB2, 0xB1):
                cip = raw[2:] if kind == 0xB1 else raw
                if kind == 0xB1 and len(raw) >= 2:
                    tx.details["sequence"] = _u16(raw, 0)[0]
                if request:
                    service, name, details, write = cip_request(cip)
                    tx.details["encapsulation"] = tx.function_name
                    tx.function, tx.function_name, tx.write = service, name, write
                    tx.details.update(details)
                elif len(cip) >= 4:
                    general, extra = cip[2], cip[3]
                    if general not in (0, 6):
                        tx.status = "exception"
                        tx.error = STATUS.get(general, f"general_status_0x{general:02x}")
                        if extra:
                            tx.details["extended_status"] = cip[4 : 4 + 2 * extra].hex()

    def flush(self) -> list[Transaction]:
        return self.pending.flush()


def _cpf(body: bytes) -> list[tuple[int, bytes]]:
    """Common packet format items after the interface handle and timeout."""
    if len(body) < 8:
        raise Malformed("CPF cut short")
    count = min(_u16(body, 6)[0], 8)
    items, pos = [], 8
    for _ in range(count):
        if pos + 4 > len(body):
            raise Malformed("CPF item header cut short")
        kind, size = _u16(body, pos)[0], _u16(body, pos + 2)[0]
        items.append((kind, body[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return items


def _sequence(body: bytes) -> int | None:
    """The sequence count of a connected data item (the answer repeats the request's)."""
    try:
        for kind, raw in _cpf(body):
            if kind == 0xB1 and len(raw) >= 2:
                return int(_u16(raw, 0)[0])
    except Malformed:
        return None
    return None


def _identity(tx: Transaction, body: bytes) -> None:
    if len(body) < 2 or not _u16(body, 0)[0]:
        return
    pos = 2
    kind, size = _u16(body, pos)[0], _u16(body, pos + 2)[0]
    item = body[pos + 4 : pos + 4 + size]
    if kind != 0x0C or len(item) < 33:
        raise Malformed("ListIdentity item cut short")
    vendor, device_type, product, major, minor, status, serial = struct.unpack_from(
        "<HHHBBHI", item, 18
    )
    name_len = item[32]
    tx.details["identity"] = {
        "vendor_id": vendor,
        "device_type": device_type,
        "product_code": product,
        "revision": f"{major}.{minor}",
        "status": status,
        "serial_number": f"0x{serial:08x}",
        "product_name": text(item[33 : 33 + name_len]),
        "address": ".".join(str(b) for b in item[6:10]),
    }


SPEC = ProtocolSpec(
    name="enip",
    tcp_ports=(44818,),
    udp_ports=(44818,),
    pdu_length=pdu_length,
    resync=resync,
    session=EnipSession,
    max_pdu=65_535 + 24,
)
