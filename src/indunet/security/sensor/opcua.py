"""OPC UA binary over TCP (opc.tcp): HEL/ACK/ERR, OPN/CLO and MSG chunks.

With SecurityPolicy None the service type of each MSG is read (its numeric encoding id,
names from the OPC UA NodeIds table), requests pair with responses by request id. Read,
Write and Call carry their node ids and scalar values; GetEndpoints and Read of the server's
BuildInfo give passive asset identification (``details``). A channel opened with any other
policy is recorded (its OPN, with the policy URI) and its MSG chunks only counted."""

from __future__ import annotations

import struct
from typing import Any

from .base import MAX_VALUES, Counts, Endpoints, Malformed, Pending, ProtocolSpec
from .records import Transaction
from .uabinary import Reader, Unsupported

#: Service encoding ids (``<Name>_Encoding_DefaultBinary`` in the NodeIds table, ns=0).
SERVICES = {
    397: "ServiceFault",
    422: "FindServersRequest", 425: "FindServersResponse",
    428: "GetEndpointsRequest", 431: "GetEndpointsResponse",
    437: "RegisterServerRequest", 440: "RegisterServerResponse",
    446: "OpenSecureChannelRequest", 449: "OpenSecureChannelResponse",
    452: "CloseSecureChannelRequest", 455: "CloseSecureChannelResponse",
    461: "CreateSessionRequest", 464: "CreateSessionResponse",
    467: "ActivateSessionRequest", 470: "ActivateSessionResponse",
    473: "CloseSessionRequest", 476: "CloseSessionResponse",
    479: "CancelRequest", 482: "CancelResponse",
    488: "AddNodesRequest", 491: "AddNodesResponse",
    494: "AddReferencesRequest", 497: "AddReferencesResponse",
    500: "DeleteNodesRequest", 503: "DeleteNodesResponse",
    506: "DeleteReferencesRequest", 509: "DeleteReferencesResponse",
    527: "BrowseRequest", 530: "BrowseResponse",
    533: "BrowseNextRequest", 536: "BrowseNextResponse",
    554: "TranslateBrowsePathsToNodeIdsRequest", 557: "TranslateBrowsePathsToNodeIdsResponse",
    560: "RegisterNodesRequest", 563: "RegisterNodesResponse",
    566: "UnregisterNodesRequest", 569: "UnregisterNodesResponse",
    615: "QueryFirstRequest", 618: "QueryFirstResponse",
    621: "QueryNextRequest", 624: "QueryNextResponse",
    631: "ReadRequest", 634: "ReadResponse",
    664: "HistoryReadRequest", 667: "HistoryReadResponse",
    673: "WriteRequest", 676: "WriteResponse",
    700: "HistoryUpdateRequest", 703: "HistoryUpdateResponse",
    712: "CallRequest", 715: "CallResponse",
    751: "CreateMonitoredItemsRequest", 754: "CreateMonitoredItemsResponse",
    763: "ModifyMonitoredItemsRequest", 766: "ModifyMonitoredItemsResponse",
    769: "SetMonitoringModeRequest", 772: "SetMonitoringModeResponse",
    775: "SetTriggeringRequest", 778: "SetTriggeringResponse",
    781: "DeleteMonitoredItemsRequest", 784: "DeleteMonitoredItemsResponse",
    787: "CreateSubscriptionRequest", 790: "CreateSubscriptionResponse",
    793: "ModifySubscriptionRequest", 796: "ModifySubscriptionResponse",
    799: "SetPublishingModeRequest", 802: "SetPublishingModeResponse",
    826: "PublishRequest", 829: "PublishResponse",
    832: "RepublishRequest", 835: "RepublishResponse",
    841: "TransferSubscriptionsRequest", 844: "TransferSubscriptionsResponse",
    847: "DeleteSubscriptionsRequest", 850: "DeleteSubscriptionsResponse",
    12208: "FindServersOnNetworkRequest", 12209: "FindServersOnNetworkResponse",
    12211: "RegisterServer2Request", 12212: "RegisterServer2Response",
}  # fmt: skip
#: Services that change the server: writes, method calls, address-space and history edits.
WRITES = frozenset({488, 494, 500, 506, 673, 700, 712})

STATUS = {
    0x80010000: "BadUnexpectedError", 0x80020000: "BadInternalError",
    0x80050000: "BadCommunicationError", 0x800A0000: "BadTimeout",
    0x800B0000: "BadServiceUnsupported", 0x800F0000: "BadNothingToDo",
    0x80100000: "BadTooManyOperations", 0x80120000: "BadCertificateInvalid",
    0x80130000: "BadSecurityChecksFailed", 0x801F0000: "BadUserAccessDenied",
    0x80200000: "BadIdentityTokenInvalid", 0x80210000: "BadIdentityTokenRejected",
    0x80220000: "BadSecureChannelIdInvalid", 0x80250000: "BadSessionIdInvalid",
    0x80260000: "BadSessionClosed", 0x80270000: "BadSessionNotActivated",
    0x80330000: "BadNodeIdInvalid", 0x80340000: "BadNodeIdUnknown",
    0x80350000: "BadAttributeIdInvalid", 0x803A0000: "BadNotReadable",
    0x803B0000: "BadNotWritable", 0x803C0000: "BadOutOfRange",
    0x803D0000: "BadNotSupported", 0x80530000: "BadRequestTypeInvalid",
    0x80550000: "BadSecurityPolicyRejected", 0x80570000: "BadUserSignatureInvalid",
    0x80580000: "BadApplicationSignatureInvalid", 0x80730000: "BadWriteNotSupported",
    0x80740000: "BadTypeMismatch", 0x80750000: "BadMethodInvalid",
    0x80760000: "BadArgumentsMissing", 0x80790000: "BadNoSubscription",
    0x80830000: "BadTcpEndpointUrlInvalid", 0x80AB0000: "BadInvalidArgument",
}  # fmt: skip
#: Server_ServerStatus_BuildInfo's children: a Read of them names the product.
BUILD_INFO = {
    "i=2261": "ProductName",
    "i=2262": "ProductUri",
    "i=2263": "ManufacturerName",
    "i=2264": "SoftwareVersion",
    "i=2265": "BuildNumber",
}
#: Services whose bodies are read for details (the others only by type and result).
REQUEST_DETAILS = frozenset({422, 428, 461, 467, 631, 673, 712})
RESPONSE_DETAILS = frozenset({431, 464, 634, 676, 715})
NONE_POLICY = "http://opcfoundation.org/UA/SecurityPolicy#None"
MESSAGE_TYPES = frozenset({b"HEL", b"ACK", b"ERR", b"OPN", b"MSG", b"CLO", b"RHE"})
MAX_MESSAGE = 16 * 1024 * 1024
_U32 = struct.Struct("<I").unpack_from
#: A message header: its type and chunk letters as one number, then its size.
_HEADER = struct.Struct("<II").unpack_from
_HEADS = frozenset(
    int.from_bytes(kind + chunk, "little") for kind in MESSAGE_TYPES for chunk in (b"F", b"C", b"A")
)
_CHUNK, _ABORT = ord("C"), ord("A")  # a MSG chunk's type: more to come, or given up


def pdu_length(buf: bytes | bytearray, off: int) -> int:
    if len(buf) - off < 8:
        return 0
    head, size = _HEADER(buf, off)
    if head not in _HEADS:
        return -1
    return size if 8 <= size <= MAX_MESSAGE else -1


def resync(buf: bytes | bytearray, off: int) -> int:
    while True:
        found = [i for i in (buf.find(t, off) for t in (b"MSG", b"OPN", b"HEL", b"CLO")) if i >= 0]
        if not found:
            return -1
        pos = min(found)
        if pdu_length(buf, pos) != -1:
            return pos
        off = pos + 1


def status_name(code: int) -> str:
    return STATUS.get(code & 0xFFFF0000, f"0x{code:08X}")


class OpcUaSession:
    __slots__ = ("chunks", "counts", "encrypted", "ends", "pending", "policy")

    def __init__(self, ends: Endpoints, counts: Counts) -> None:
        self.ends = ends
        self.counts = counts
        self.pending = Pending()
        self.encrypted = False
        self.policy: str | None = None
        self.chunks: set[tuple[bool, int]] = set()  # (to_server, request id) still chunked

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        kind = data[:3]
        chunk = data[3]
        if kind == b"MSG":
            if self.encrypted:
                self._count("opcua.encrypted_messages")
                return []
            # secure channel id, token id, sequence number, then the request id
            request_id: int = _U32(data, 20)[0]
            chunks = self.chunks
            if chunks or chunk == _CHUNK:  # a message in several chunks: read its first
                key = (to_server, request_id)
                if key in chunks:  # a later chunk of a message already read
                    if chunk != _CHUNK:
                        chunks.discard(key)
                    return []
                if chunk == _CHUNK:
                    if len(chunks) > 256:
                        chunks.clear()
                    chunks.add(key)
            if chunk == _ABORT:
                return []
            return self._message(ts, to_server, request_id, Reader(data, 24))
        r = Reader(data, 8)
        if kind == b"HEL" and to_server:
            tx = self.ends.tx(ts, "opcua", 0, "Hello")
            r.skip(20)
            tx.details["endpoint_url"] = r.string()
            return self.pending.put("HEL", tx)
        if kind in (b"ACK", b"ERR") and not to_server:
            tx = self.pending.take("HEL") or self.ends.tx(ts, "opcua", 0, "Hello")
            if kind == b"ERR":
                code = r.u32()
                tx.status, tx.error = "exception", status_name(code)
                tx.details["reason"] = r.string()
            return [tx]
        if kind == b"OPN":
            return self._open(ts, to_server, r)
        if kind == b"CLO" and to_server:
            return [self.ends.tx(ts, "opcua", 452, "CloseSecureChannelRequest")]
        raise Malformed(f"{kind.decode('latin-1')} message in the wrong direction")

    def _open(self, ts: float, to_server: bool, r: Reader) -> list[Transaction]:
        r.skip(4)  # secure channel id
        policy = r.string()
        r.bytestring()  # certificate
        r.bytestring()  # thumbprint
        if to_server:
            self.policy = policy
            self.encrypted = policy != NONE_POLICY
            tx = self.ends.tx(ts, "opcua", 446, "OpenSecureChannelRequest")
            tx.details["security_policy"] = policy
            if not self.encrypted:
                r.skip(8)
                if r.numeric_nodeid() == 446:
                    r.request_header()
                    r.skip(4)
                    tx.details["request_type"] = ("issue", "renew")[r.u32() & 1]
                    mode = r.u32()
                    tx.details["security_mode"] = {1: "None", 2: "Sign", 3: "SignAndEncrypt"}.get(
                        mode, str(mode)
                    )
            else:
                self._count("opcua.secured_channels")
            return self.pending.put("OPN", tx)
        tx = self.pending.take("OPN") or self.ends.tx(ts, "opcua", 446, "OpenSecureChannelRequest")
        tx.details.setdefault("security_policy", policy)
        if policy == NONE_POLICY:
            r.skip(8)
            if r.numeric_nodeid() == 449:
                result = r.response_header()
                if result & 0x80000000:
                    tx.status, tx.error = "exception", status_name(result)
        return [tx]

    def _message(self, ts: float, to_server: bool, request_id: int, r: Reader) -> list[Transaction]:
        tx: Transaction | None
        type_id = r.numeric_nodeid()
        name = SERVICES.get(type_id) or (f"Service_{type_id}" if type_id >= 0 else "UnknownService")
        if to_server:
            details = {"request_id": request_id}
            tx = self.ends.tx(ts, "opcua", type_id, name, type_id in WRITES, None, details)
            if type_id in REQUEST_DETAILS:
                _safely(tx, _request_details, r, type_id)
            return self.pending.put(request_id, tx)
        tx = self.pending.take(request_id)
        if tx is None:
            req_id = type_id - 3 if name.endswith("Response") else type_id
            tx = self.ends.tx(ts, "opcua", req_id, SERVICES.get(req_id, name))
            tx.details["request_seen"] = False
        tx.details["response"] = name
        result: int = _U32(r.data, r.pos + 12)[0]  # after the timestamp and request handle
        if result & 0x80000000 or type_id == 397:
            tx.status, tx.error = "exception", status_name(result)
            return [tx]
        if type_id in RESPONSE_DETAILS:
            r.response_header()
            _safely(tx, _response_details, r, type_id)
        return [tx]

    def flush(self) -> list[Transaction]:
        return self.pending.flush()


def _safely(tx: Transaction, fn: Any, r: Reader, type_id: int) -> None:
    """Details are best effort: a body cut (chunked) or holding an unsupported value keeps
    what was read before it."""
    try:
        fn(tx, r, type_id)
    except (Unsupported, Malformed, IndexError, struct.error) as exc:
        tx.details["details_incomplete"] = str(exc)[:120]


def _request_details(tx: Transaction, r: Reader, type_id: int) -> None:
    r.request_header()
    if type_id == 631:  # Read
        r.skip(12)  # max age, timestamps to return
        nodes: list[str] = []
        for _ in range(r.count()):
            node = r.nodeid()
            attribute = r.u32()
            r.string()
            r.skip(2)
            r.string()
            if len(nodes) < MAX_VALUES:
                nodes.append(node if attribute == 13 else f"{node}#{attribute}")
        tx.details["nodes"] = nodes
        tx.count = len(nodes)
    elif type_id == 673:  # Write
        nodes = []
        values: list[Any] = []
        tx.details["nodes"] = nodes
        tx.values = values
        for _ in range(r.count()):
            nodes.append(r.nodeid())
            r.u32()
            r.string()
            value, _ = r.data_value()
            values.append(value)
        tx.count = len(nodes)
    elif type_id == 712:  # Call
        calls: list[dict[str, Any]] = []
        tx.details["calls"] = calls
        for _ in range(r.count()):
            call: dict[str, Any] = {"object": r.nodeid(), "method": r.nodeid()}
            calls.append(call)
            call["arguments"] = [r.variant() for _ in range(r.count())]
        tx.count = len(calls)
    elif type_id in (428, 422):  # GetEndpoints, FindServers
        tx.details["endpoint_url"] = r.string()
    elif type_id == 461:  # CreateSession: the client's application description
        tx.details["client_application_uri"] = r.string()
        tx.details["client_product_uri"] = r.string()
        tx.details["client_application_name"] = r.localized_text()
    elif type_id == 467:  # ActivateSession: which identity token
        r.string()  # client signature: algorithm
        r.bytestring()  # and signature
        for _ in range(r.count()):  # software certificates: data and signature
            r.bytestring()
            r.bytestring()
        for _ in range(r.count()):
            r.string()  # locale ids
        tx.details["identity_token"] = _TOKENS.get(r.nodeid(), "other")


_TOKENS = {"i=321": "anonymous", "i=324": "username", "i=327": "x509", "i=940": "issued"}


def _application(r: Reader) -> dict[str, Any]:
    app: dict[str, Any] = {
        "application_uri": r.string(),
        "product_uri": r.string(),
        "application_name": r.localized_text(),
    }
    app["application_type"] = ("server", "client", "client_and_server", "discovery_server")[
        r.u32() & 3
    ]
    r.string()
    r.string()
    for _ in range(r.count()):
        r.string()
    return app


def _response_details(tx: Transaction, r: Reader, type_id: int) -> None:
    if type_id == 634:  # Read
        values, nodes = [], tx.details.get("nodes") or []
        build: dict[str, Any] = {}
        for i in range(r.count()):
            value, status = r.data_value()
            values.append(value if not status & 0x80000000 else status_name(status))
            if i < len(nodes) and nodes[i] in BUILD_INFO and value is not None:
                build[BUILD_INFO[nodes[i]]] = value
        tx.values = values[:MAX_VALUES]
        if build:
            tx.details["build_info"] = build
    elif type_id == 676:  # Write: per-node results
        results = [r.u32() for _ in range(r.count())]
        bad = [status_name(c) for c in results if c & 0x80000000]
        if bad:
            tx.status, tx.error = "exception", bad[0]
            tx.details["results"] = [status_name(c) if c else "Good" for c in results][:MAX_VALUES]
    elif type_id == 715:  # Call: per-call status and outputs
        outputs = []
        for _ in range(r.count()):
            code = r.u32()
            for _ in range(r.count()):
                r.u32()
            for _ in range(r.count()):
                r.diagnostic_info()
            out = [r.variant() for _ in range(r.count())]
            outputs.append(out)
            if code & 0x80000000:
                tx.status, tx.error = "exception", status_name(code)
        tx.details["outputs"] = outputs
    elif type_id == 431:  # GetEndpoints: the server describes itself
        endpoints = []
        for _ in range(r.count()):
            url = r.string()
            app = _application(r)
            r.bytestring()
            mode = r.u32()
            policy = r.string()
            for _ in range(r.count()):
                r.string()
                r.u32()
                r.string()
                r.string()
                r.string()
            r.string()
            r.u8()
            endpoints.append({"url": url, "security_mode": mode, "security_policy": policy})
            tx.details.setdefault("server", app)
        tx.details["endpoints"] = endpoints[:16]
    elif type_id == 464:  # CreateSession
        r.skip_nodeid()  # session id
        r.skip_nodeid()  # authentication token
        r.skip(8)
        r.bytestring()
        cert = r.bytestring()
        tx.details["server_certificate_bytes"] = len(cert or b"")


SPEC = ProtocolSpec(
    name="opcua",
    tcp_ports=(4840,),
    udp_ports=(),
    pdu_length=pdu_length,
    resync=resync,
    session=OpcUaSession,
    max_pdu=1024 * 1024,
)
