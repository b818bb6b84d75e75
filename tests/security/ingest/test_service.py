"""The ingest part from its settings: tails and listeners named in the environment, a port
that is taken leaves the others running, bad settings are named; the metrics lines."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.conftest import until

from indunet.security import Hub
from indunet.security.ingest.listeners import UdpSyslog
from indunet.security.ingest.service import Ingest, configure, metric_lines
from indunet.security.ingest.tail import DirectoryTail, FileTail


async def test_sources_from_the_environment(tmp_path: Path) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    log = tmp_path / "eve.json"
    log.write_text('{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow"}\n')
    hub = Hub()
    await hub.start()
    ingest = Ingest(hub)
    configure(
        ingest,
        {
            "INDUNET_SECURITY_TAIL": f"eve:{log}; zeek:{tmp_path}/*.log",
            "INDUNET_SECURITY_SYSLOG_UDP": "127.0.0.1:0",
            "INDUNET_SECURITY_SYSLOG_TCP": f"127.0.0.1:{port}",
            "INDUNET_SECURITY_SYSLOG_ZONE": "Asia/Shanghai",
        },
    )
    kinds = [type(p).__name__ for _, p in ingest.parts]
    assert kinds == ["FileTail", "DirectoryTail", "UdpSyslog", "TcpSyslog"]
    assert isinstance(ingest.parts[0][1], FileTail)
    assert isinstance(ingest.parts[1][1], DirectoryTail)
    await ingest.start()  # the TCP port is taken: that source says so, the others run
    tcp = ingest.sources[f"syslog tcp 127.0.0.1:{port}"]
    assert tcp.last_error.startswith("did not start")
    udp = ingest.parts[2][1]
    assert isinstance(udp, UdpSyslog) and udp.bound is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"<13>Mar  1 18:00:00 h app: hello", udp.bound)
    await until(lambda: ingest.sources["syslog udp 127.0.0.1:0"].submitted == 1)
    await until(lambda: ingest.sources[str(log)].submitted == 1)
    await ingest.stop()
    await hub.stop()
    taken.close()

    class Svc:
        def part(self, name: str) -> object:
            return ingest if name == "ingest" else None

    lines = "\n".join(metric_lines(Svc()))
    assert f'indunet_security_source_total{{source="{log}",kind="file",result="read"}} 1' in lines
    assert 'source="syslog udp 127.0.0.1:0",kind="udp",result="parsed"} 1' in lines


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INDUNET_SECURITY_TAIL": "cef:/var/log/x"}, "INDUNET_SECURITY_TAIL"),
        ({"INDUNET_SECURITY_TAIL": "/var/log/x"}, "INDUNET_SECURITY_TAIL"),
        ({"INDUNET_SECURITY_SYSLOG_UDP": "5514"}, "host:port"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        configure(Ingest(Hub()), env)
