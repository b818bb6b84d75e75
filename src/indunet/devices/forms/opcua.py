"""OPC UA forms: ``opcua:nodeId`` (or an ``opc.tcp://`` href with ``?id=``) to ``OpcUaForm``."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from indunet.devices.forms.common import FormBinding, FormInput, Reporter
from indunet.devices.models import DEVICE_PLACEHOLDER, OpcUaForm

_NODE_ID = re.compile(r"((ns=\d+|nsu=[^;]+);)?[isgb]=.+\Z", re.DOTALL)


def read(src: FormInput, rep: Reporter) -> OpcUaForm | None:
    """The OPC UA form, or None with the problems reported."""
    path, form = src.path, src.form
    node_id = form.get("opcua:nodeId")
    key = "opcua:nodeId"
    href = form.get("href")
    from_href = None
    if isinstance(href, str) and "id=" in href:
        ids = parse_qs(urlsplit(href).query, separator="&").get("id")
        from_href = unquote(ids[0]) if ids else None
    if node_id is None:
        node_id, key = from_href, "href"
    elif from_href is not None and from_href != node_id:
        rep.problem(
            f"{path}.href",
            f"?id={from_href} contradicts opcua:nodeId {node_id}",
            "opcua_contradicts",
        )
        return None
    if not isinstance(node_id, str) or not node_id:
        rep.problem(
            path, "an OPC UA form needs opcua:nodeId or an href with ?id=<node id>", "opcua_node"
        )
        return None
    if not _NODE_ID.match(node_id.replace(DEVICE_PLACEHOLDER, "x")):
        rep.problem(
            f"{path}.{key}",
            f"{node_id!r} is not an OPC UA node id such as ns=2;s=Spindle.Speed or ns=0;i=2258",
            "opcua_node_id",
            value=node_id[:80],
        )
        return None
    interval = rep.positive(path, form, "indunet:samplingInterval", 1000.0)
    return OpcUaForm(node_id=node_id, sampling_interval=interval)


BINDING = FormBinding(
    name="opcua",
    prefixes=("opcua:",),
    schemes=("opc.tcp",),
    hint="opcua:nodeId or an opc.tcp:// href with ?id= (OPC UA)",
    read=read,
    form_type=OpcUaForm,
)
