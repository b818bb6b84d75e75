"""Modbus/TCP: the MBAP header frames each ADU; requests pair with responses by transaction
id and unit id within the flow."""

from __future__ import annotations

import struct
from typing import Any

from .base import MAX_VALUES, U16BE, Counts, Endpoints, Malformed, Pending, ProtocolSpec, text
from .records import Transaction

FUNCTIONS = {
    1: "read_coils",
    2: "read_discrete_inputs",
    3: "read_holding_registers",
    4: "read_input_registers",
    5: "write_single_coil",
    6: "write_single_register",
    7: "read_exception_status",
    8: "diagnostics",
    11: "get_comm_event_counter",
    12: "get_comm_event_log",
    15: "write_multiple_coils",
    16: "write_multiple_registers",
    17: "report_server_id",
    20: "read_file_record",
    21: "write_file_record",
    22: "mask_write_register",
    23: "read_write_multiple_registers",
    24: "read_fifo_queue",
    43: "encapsulated_interface_transport",
}
WRITES = frozenset({5, 6, 15, 16, 21, 22, 23})

EXCEPTIONS = {
    1: "illegal_function",
    2: "illegal_data_address",
    3: "illegal_data_value",
    4: "server_device_failure",
    5: "acknowledge",
    6: "server_device_busy",
    7: "negative_acknowledge",
    8: "memory_parity_error",
    10: "gateway_path_unavailable",
    11: "gateway_target_device_failed_to_respond",
}

DIAGNOSTICS = {
    0: "return_query_data",
    1: "restart_communications_option",
    2: "return_diagnostic_register",
    3: "change_ascii_input_delimiter",
    4: "force_listen_only_mode",
    10: "clear_counters_and_diagnostic_register",
    11: "return_bus_message_count",
    12: "return_bus_communication_error_count",
    13: "return_bus_exception_error_count",
    14: "return_server_message_count",
    15: "return_server_no_response_count",
    16: "return_server_nak_count",
    17: "return_server_busy_count",
    18: "return_bus_character_overrun_count",
    20: "clear_overrun_counter_and_flag",
}
#: Diagnostics sub-functions that change the device (restart, listen-only, clearing).
DIAGNOSTIC_WRITES = frozenset({1, 3, 4, 10, 20})

DEVICE_OBJECTS = {
    0: "VendorName",
    1: "ProductCode",
    2: "MajorMinorRevision",
    3: "VendorUrl",
    4: "ProductName",
    5: "ModelName",
    6: "UserApplicationName",
}

_u16 = U16BE.unpack_from
_mbap = struct.Struct(">2xHH").unpack_from  # the MBAP header's protocol id and length
#: Register values by count (at most ``MAX_VALUES``), read in one unpack.
_REGS = [struct.Struct(f">{n}H").unpack_from for n in range(MAX_VALUES + 1)]
#: Each byte's eight coil states, least significant bit first.
_BITS = [tuple(bool(byte >> i & 1) for i in range(8)) for byte in range(256)]


def pdu_length(buf: bytes | bytearray, off: int) -> int:
    if len(buf) - off < 6:
        return 0
    protocol: int
    length: int
    protocol, length = _mbap(buf, off)
    if protocol or length < 2 or length > 254:
        return -1
    return 6 + length


def resync(buf: bytes | bytearray, off: int) -> int:
    end = len(buf) - 7
    while off <= end:
        if buf[off + 2] == 0 and buf[off + 3] == 0 and buf[off + 4] == 0 and buf[off + 5] >= 2:
            fc = buf[off + 7] & 0x7F
            if fc in FUNCTIONS:
                return off
        off += 1
    return -1


def _bits(raw: bytes, count: int) -> list[Any]:
    count = min(count, len(raw) * 8, MAX_VALUES)
    out: list[Any] = []
    for byte in raw[: (count + 7) >> 3]:
        out += _BITS[byte]
    del out[count:]
    return out


def _regs(raw: bytes) -> list[Any]:
    return list(_REGS[min(len(raw) // 2, MAX_VALUES)](raw))


class ModbusSession:
    __slots__ = ("ends", "pending")

    def __init__(self, ends: Endpoints, counts: Counts) -> None:
        self.ends = ends
        self.pending = Pending()

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        if len(data) < 8:
            raise Malformed(f"ADU of {len(data)} bytes, shorter than MBAP header and function")
        tid = (data[0] << 8) | data[1]
        unit = data[6]
        fc = data[7]
        if to_server:  # a request: kept until its response
            if fc & 0x80:
                raise Malformed(f"request with exception function code {fc}")
            name = FUNCTIONS.get(fc) or f"function_{fc}"
            tx = self.ends.tx(ts, "modbus", fc, name, fc in WRITES, unit, {"transaction_id": tid})
            try:
                _parse_request(tx, fc, data[8:])
            except (IndexError, ValueError) as exc:
                raise Malformed(f"{tx.function_name} request truncated") from exc
            return self.pending.put((tid, unit), tx)
        found = self.pending.take((tid, unit))
        if found is None:
            # a response whose request was not seen (capture started late): still a transaction
            base = fc & 0x7F
            name = FUNCTIONS.get(base) or f"function_{base}"
            details = {"transaction_id": tid, "request_seen": False}
            tx = self.ends.tx(ts, "modbus", base, name, False, unit, details)
        elif (fc & 0x7F) != found.function:
            raise Malformed(f"response function {fc} to request {found.function}")
        else:
            tx = found
        tx.details["response_ts"] = ts
        if fc & 0x80:
            code = data[8] if len(data) > 8 else 0
            tx.status = "exception"
            tx.error = EXCEPTIONS.get(code) or f"exception_{code}"
            return [tx]
        try:
            _parse_response(tx, fc, data[8:])
        except (IndexError, ValueError) as exc:
            raise Malformed(f"{tx.function_name} response truncated") from exc
        return [tx]

    def flush(self) -> list[Transaction]:
        return self.pending.flush()


def _parse_request(tx: Transaction, fc: int, b: bytes) -> None:
    if 1 <= fc <= 4:
        tx.address, tx.count = _u16(b, 0)[0], _u16(b, 2)[0]
    elif fc == 5:
        tx.address, value = _u16(b, 0)[0], _u16(b, 2)[0]
        tx.count, tx.values = 1, [value == 0xFF00]
    elif fc == 6:
        tx.address, tx.count, tx.values = _u16(b, 0)[0], 1, [_u16(b, 2)[0]]
    elif fc == 15:
        tx.address, tx.count = _u16(b, 0)[0], _u16(b, 2)[0]
        tx.values = _bits(b[5 : 5 + b[4]], tx.count)
    elif fc == 16:
        tx.address, tx.count = _u16(b, 0)[0], _u16(b, 2)[0]
        tx.values = _regs(b[5 : 5 + b[4]])
    elif fc == 22:
        tx.address, tx.count = _u16(b, 0)[0], 1
        tx.details["and_mask"], tx.details["or_mask"] = _u16(b, 2)[0], _u16(b, 4)[0]
    elif fc == 23:
        tx.details["read_address"], tx.details["read_count"] = _u16(b, 0)[0], _u16(b, 2)[0]
        tx.address, tx.count = _u16(b, 4)[0], _u16(b, 6)[0]
        tx.values = _regs(b[9 : 9 + b[8]])
    elif fc == 24:
        tx.address = _u16(b, 0)[0]
    elif fc == 8:
        sub = _u16(b, 0)[0]
        tx.details["sub_function"] = sub
        tx.details["sub_function_name"] = DIAGNOSTICS.get(sub, f"sub_function_{sub}")
        tx.write = sub in DIAGNOSTIC_WRITES
    elif fc == 43:
        mei = b[0]
        tx.details["mei_type"] = mei
        if mei == 14:
            tx.function_name = "read_device_identification"
            tx.details["read_device_id_code"] = b[1]
            tx.details["object_id"] = b[2]
        elif mei == 13:
            tx.function_name = "canopen_general_reference"


def _parse_response(tx: Transaction, fc: int, b: bytes) -> None:
    if fc == 1 or fc == 2:
        tx.values = _bits(b[1 : 1 + b[0]], tx.count if tx.count is not None else b[0] * 8)
    elif fc == 3 or fc == 4:
        tx.values = _regs(b[1 : 1 + b[0]])
    elif fc == 23:
        tx.details["read_values"] = _regs(b[1 : 1 + b[0]])
    elif fc == 17:
        raw = b[1 : 1 + b[0]]
        tx.details["server_id"] = raw[:-1].hex() if raw else ""
        if raw:
            tx.details["run_indicator"] = raw[-1] == 0xFF
    elif fc == 8:
        tx.details["data"] = b[2:10].hex()
    elif fc == 43 and b and b[0] == 14:
        tx.function_name = "read_device_identification"
        tx.details["conformity_level"] = b[2]
        tx.details["more_follows"] = b[3] == 0xFF
        count, off = b[5], 6
        objects: dict[str, str] = {}
        for _ in range(count):
            oid, size = b[off], b[off + 1]
            value = b[off + 2 : off + 2 + size]
            if len(value) < size:
                raise ValueError("object cut short")
            objects[DEVICE_OBJECTS.get(oid, f"object_0x{oid:02x}")] = text(value)
            off += 2 + size
        tx.details["device_identification"] = objects


SPEC = ProtocolSpec(
    name="modbus",
    tcp_ports=(502,),
    udp_ports=(),
    pdu_length=pdu_length,
    resync=resync,
    session=ModbusSession,
    max_pdu=260,
)
