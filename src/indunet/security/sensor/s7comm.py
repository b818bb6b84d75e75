"""S7comm over ISO-on-TCP: TPKT (RFC 1006) frames, COTP (ISO 8073) CR/CC/DT/DR, and the S7
header (protocol id 0x32) with ROSCTR job/ack/ack-data/userdata. Jobs pair with their
ack-data by PDU reference. S7comm-plus (protocol id 0x72) is recognised and counted only."""

from __future__ import annotations

from typing import Any

from .base import U16BE, Counts, Endpoints, Malformed, Pending, ProtocolSpec, text
from .records import Transaction

ROSCTR = {1: "job", 2: "ack", 3: "ack_data", 7: "userdata"}
JOBS = {
    0x00: "cpu_services",
    0x04: "read_var",
    0x05: "write_var",
    0x1A: "request_download",
    0x1B: "download_block",
    0x1C: "download_ended",
    0x1D: "start_upload",
    0x1E: "upload",
    0x1F: "end_upload",
    0x28: "pi_service",
    0x29: "plc_stop",
    0xF0: "setup_communication",
}
#: Jobs that change the PLC: writes, program download, PI services (start, delete…), stop.
WRITES = frozenset({0x05, 0x1A, 0x1B, 0x1C, 0x28, 0x29})
PI_SERVICES = {
    "P_PROGRAM": "start (run the program)",
    "_INSE": "activate (insert) a downloaded block",
    "_DELE": "delete a block",
    "_MODU": "copy RAM to ROM",
    "_GARB": "compress memory",
    "_N_": "NC program",
}
AREAS = {0x81: "I", 0x82: "Q", 0x83: "M", 0x84: "DB", 0x1C: "C", 0x1D: "T", 0x80: "P"}
USERDATA_GROUPS = {
    1: "mode_transition",
    2: "cyclic_data",
    3: "block_functions",
    4: "cpu_functions",
    5: "security",
    6: "pbc",
    7: "time_functions",
}
CPU_SUBFUNCTIONS = {
    1: "read_szl",
    2: "message_service",
    3: "diagnostic_message",
    0x13: "alarm_query",
}
SZL_NAMES = {
    0x0011: "module_identification",
    0x001C: "component_identification",
    0x0131: "communication_capabilities",
    0x0232: "protection_level",
    0x0424: "operating_mode",
    0x0A00: "diagnostic_buffer_header",
    0x00A0: "diagnostic_buffer",
}
COMPONENTS = {
    1: "plc_name",
    2: "module_name",
    3: "plant_id",
    4: "copyright",
    5: "serial_number",
    7: "module_type",
    8: "memory_card_serial",
    11: "location",
}
_u16 = U16BE.unpack_from


def pdu_length(buf: bytes | bytearray, off: int) -> int:
    if len(buf) - off < 4:
        return 0
    if buf[off] != 3 or buf[off + 1] != 0:
        return -1
    size = (buf[off + 2] << 8) | buf[off + 3]
    return size if size >= 7 else -1


def resync(buf: bytes | bytearray, off: int) -> int:
    while True:
        pos = buf.find(b"\x03\x00", off)
        if pos < 0 or pos + 5 >= len(buf):
            return -1
        if pdu_length(buf, pos) > 0 and buf[pos + 5] in (0xE0, 0xD0, 0xF0, 0x80):
            return pos
        off = pos + 1


class S7Session:
    __slots__ = ("counts", "ends", "pending", "tsap")

    def __init__(self, ends: Endpoints, counts: Counts) -> None:
        self.ends = ends
        self.counts = counts
        self.pending = Pending()
        self.tsap: dict[str, Any] = {}

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        if len(data) < 7:
            raise Malformed("TPKT too short for COTP")
        li = data[4]
        if li < 2 or 5 + li > len(data):
            raise Malformed(f"COTP length indicator {li} runs past the TPKT")
        kind = data[5] & 0xF0
        if kind in (0xE0, 0xD0):  # connection request / confirm
            return self._connect(ts, to_server, kind, data[5 : 5 + li])
        if kind == 0x80:
            return [self.ends.tx(ts, "s7comm", 0x80, "cotp_disconnect")] if to_server else []
        if kind != 0xF0:
            return []
        s7 = data[5 + li :]
        if not s7:
            return []
        if s7[0] == 0x72:
            self.counts["s7comm.s7comm_plus"] = self.counts.get("s7comm.s7comm_plus", 0) + 1
            return []
        if s7[0] != 0x32:
            raise Malformed(f"unknown protocol id 0x{s7[0]:02x} in COTP data")
        if len(s7) < 10:
            raise Malformed("S7 header cut short")
        rosctr = s7[1]
        ref = _u16(s7, 4)[0]
        plen, dlen = _u16(s7, 6)[0], _u16(s7, 8)[0]
        hlen = 12 if rosctr in (2, 3) else 10
        if hlen + plen + dlen > len(s7):
            raise Malformed(f"S7 parameter/data lengths {plen}+{dlen} run past the PDU")
        params = s7[hlen : hlen + plen]
        body = s7[hlen + plen : hlen + plen + dlen]
        if rosctr == 1:
            return self._job(ts, ref, params, body)
        if rosctr in (2, 3):
            return self._ack(ts, ref, s7[10], s7[11], params, body)
        if rosctr == 7:
            return self._userdata(ts, to_server, ref, params, body)
        raise Malformed(f"unknown ROSCTR {rosctr}")

    def _connect(self, ts: float, to_server: bool, kind: int, cotp: bytes) -> list[Transaction]:
        tx: Transaction | None
        pos = 7  # li, type, dst ref, src ref, class
        while pos + 2 <= len(cotp):
            code, size = cotp[pos], cotp[pos + 1]
            value = cotp[pos + 2 : pos + 2 + size]
            if code == 0xC2 and len(value) == 2:
                self.tsap["dst_tsap"] = value.hex()
                self.tsap["rack"], self.tsap["slot"] = value[1] >> 5, value[1] & 0x1F
            elif code == 0xC1:
                self.tsap["src_tsap"] = value.hex()
            pos += 2 + size
        if kind == 0xE0 and to_server:
            tx = self.ends.tx(ts, "s7comm", 0xE0, "cotp_connect", details=dict(self.tsap))
            return self.pending.put("CR", tx)
        tx = self.pending.take("CR")
        return [tx] if tx is not None else []

    def _unit(self) -> int | None:
        rack, slot = self.tsap.get("rack"), self.tsap.get("slot")
        return None if rack is None else int(rack) * 32 + int(slot or 0)

    def _job(self, ts: float, ref: int, params: bytes, body: bytes) -> list[Transaction]:
        if not params:
            raise Malformed("job without a function")
        fn = params[0]
        tx = self.ends.tx(ts, "s7comm", fn, JOBS.get(fn, f"job_0x{fn:02x}"), write=fn in WRITES)
        tx.unit = self._unit()
        tx.details["pdu_ref"] = ref
        if fn in (0x04, 0x05) and len(params) >= 2:
            items = _items(params[2:], params[1])
            if items:
                tx.details["items"] = items[:16]
                tx.address, tx.count = items[0]["address"], items[0]["length"]
        elif fn == 0xF0 and len(params) >= 8:
            tx.details["pdu_size"] = _u16(params, 6)[0]
        elif fn == 0x28 and len(params) >= 11:
            blen = _u16(params, 8)[0]
            name_at = 10 + blen
            if name_at < len(params):
                name = text(params[name_at + 1 : name_at + 1 + params[name_at]])
                tx.details["pi_service"] = name
                tx.details["pi_meaning"] = PI_SERVICES.get(name, "other")
                tx.details["pi_parameters"] = text(params[10:name_at])
                if name == "P_PROGRAM":
                    tx.function_name = "plc_start"
        elif fn == 0x29 and len(params) >= 7:
            tx.details["pi_service"] = text(params[7 : 7 + params[6]])
        elif fn in (0x1A, 0x1B, 0x1D) and len(params) > 9:
            tx.details["block"] = _block_name(params)
        return self.pending.put(("job", ref), tx)

    def _ack(
        self, ts: float, ref: int, eclass: int, ecode: int, params: bytes, body: bytes
    ) -> list[Transaction]:
        tx = self.pending.take(("job", ref))
        if tx is None:
            fn = params[0] if params else 0
            tx = self.ends.tx(ts, "s7comm", fn, JOBS.get(fn, f"job_0x{fn:02x}"))
            tx.details["request_seen"] = False
        if eclass or ecode:
            tx.status, tx.error = "exception", f"error_class_0x{eclass:02x}_code_0x{ecode:02x}"
        elif tx.function == 0x04 and len(params) >= 2 and body:
            codes, pos = [], 0
            for _ in range(params[1]):
                if pos + 4 > len(body):
                    break
                code, tsize, length = body[pos], body[pos + 1], _u16(body, pos + 2)[0]
                nbytes = length // 8 if tsize in (3, 4, 5) else length
                codes.append(code)
                pos += 4 + nbytes + (nbytes & 1)
            tx.details["return_codes"] = codes
            if any(c != 0xFF for c in codes):
                tx.status, tx.error = "exception", f"item_return_code_0x{codes[0]:02x}"
        return [tx]

    def _userdata(
        self, ts: float, to_server: bool, ref: int, params: bytes, body: bytes
    ) -> list[Transaction]:
        tx: Transaction | None
        if len(params) < 8:
            raise Malformed("userdata parameters cut short")
        kind, group, sub = params[5] >> 4, params[5] & 0x0F, params[6]
        gname = USERDATA_GROUPS.get(group, f"group_{group}")
        name = CPU_SUBFUNCTIONS.get(sub, f"{gname}_{sub}") if group == 4 else f"{gname}_{sub}"
        if kind == 4:  # request
            tx = self.ends.tx(ts, "s7comm", 0x0700 | group << 4 | sub & 0x0F, name)
            tx.unit = self._unit()
            tx.details["group"] = gname
            if group == 4 and sub == 1 and len(body) >= 8:
                szl, index = _u16(body, 4)[0], _u16(body, 6)[0]
                tx.details["szl_id"] = f"0x{szl:04X}"
                tx.details["szl_index"] = f"0x{index:04X}"
                tx.details["szl_name"] = SZL_NAMES.get(szl & 0x0FFF, "other")
            tx.write = group in (1, 5) or (group == 3 and sub in (0x0A,))
            return self.pending.put(("ud", group, sub), tx)
        tx = self.pending.take(("ud", group, sub))
        if tx is None:
            if kind == 0:
                self.counts["s7comm.push"] = self.counts.get("s7comm.push", 0) + 1
                return []
            tx = self.ends.tx(ts, "s7comm", 0x0700 | group << 4 | sub & 0x0F, name)
            tx.details["request_seen"] = False
        if len(params) >= 12 and _u16(params, 10)[0]:
            tx.status, tx.error = "exception", f"error_0x{_u16(params, 10)[0]:04x}"
        elif group == 4 and sub == 1 and len(body) >= 12 and body[0] == 0xFF:
            _szl_answer(tx, body)
        return [tx]

    def flush(self) -> list[Transaction]:
        return self.pending.flush()


def _items(raw: bytes, count: int) -> list[dict[str, Any]]:
    items, pos = [], 0
    for _ in range(count):
        if pos + 12 > len(raw) or raw[pos] != 0x12 or raw[pos + 2] != 0x10:
            break
        length, db, area = _u16(raw, pos + 4)[0], _u16(raw, pos + 6)[0], raw[pos + 8]
        bits = (raw[pos + 9] << 16) | (raw[pos + 10] << 8) | raw[pos + 11]
        item: dict[str, Any] = {"area": AREAS.get(area, f"0x{area:02x}"), "address": bits >> 3,
                                "bit": bits & 7, "length": length}  # fmt: skip
        if area == 0x84:
            item["db"] = db
        items.append(item)
        pos += 2 + raw[pos + 1]
    return items


def _block_name(params: bytes) -> str:
    # function, status, 2 unknown, 4 upload id, then length byte + "_0800001P" style name
    n = params[8]
    return text(params[9 : 9 + n])


def _szl_answer(tx: Transaction, body: bytes) -> None:
    szl, index = _u16(body, 4)[0], _u16(body, 6)[0]
    size, count = _u16(body, 8)[0], _u16(body, 10)[0]
    tx.details["szl_id"], tx.details["szl_index"] = f"0x{szl:04X}", f"0x{index:04X}"
    records = []
    pos = 12
    for _ in range(min(count, 32)):
        if size < 2 or pos + size > len(body):
            break
        records.append(body[pos : pos + size])
        pos += size
    if szl & 0x0FFF == 0x0011:  # module identification: index, order number, versions
        ident: dict[str, str] = {}
        for rec in records:
            idx = _u16(rec, 0)[0]
            order = text(rec[2:22])
            if idx == 1:
                ident["order_number"] = order
            elif idx == 6:
                ident["hardware_order_number"] = order
            elif idx == 7 and len(rec) >= 28:
                ident["firmware"] = f"V{rec[25]}.{rec[26]}.{rec[27]}"
        tx.details["module_identification"] = ident
    elif szl & 0x0FFF == 0x001C:  # component identification: names, serial number
        comp: dict[str, str] = {}
        for rec in records:
            idx = _u16(rec, 0)[0]
            comp[COMPONENTS.get(idx, f"index_{idx}")] = text(rec[2:34])
        tx.details["component_identification"] = comp


SPEC = ProtocolSpec(
    name="s7comm",
    tcp_ports=(102,),
    udp_ports=(),
    pdu_length=pdu_length,
    resync=resync,
    session=S7Session,
    max_pdu=65_535,
)
