"""``indunet sim``: refuses bad options up front; runs, serves, writes its plan, stops on SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from pymodbus.client import AsyncModbusTcpClient
from typer.testing import CliRunner

from indunet import devices
from indunet.cli.main import app
from indunet.sim import FactoryPlan, make_plan


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mqtt", "localhost"], "HOST:PORT"),
        (["--register", "http://127.0.0.1:8000"], "--token"),
        (["--devices", "0"], "1 to"),
        (["--fault", "cnc-0001:melt"], "unknown fault kind"),
        (["--fault", "cnc-0099:offline"], "no device"),
        (["--plan-in", "/nonexistent/plan.json"], "does not exist"),
        (["--plan-in", "p.json", "--devices", "5"], "not both"),
        (["--interval", "0"], "interval"),
        (["--active", "sm2"], "--active needs --register"),
        (["--register", "http://h:1", "--token", "t", "--active", "rsa"], "ed25519 or sm2"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_sim_runs_serves_writes_its_plan_and_stops_on_sigint(tmp_path: Path) -> None:
    given, plan_file, log = tmp_path / "given.json", tmp_path / "plan.json", tmp_path / "sim.log"
    models = devices.library_models()
    given.write_bytes(FactoryPlan(tuple(make_plan(models).by_protocol("modbus"))).to_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
    cmd = [sys.executable, "-m", "indunet", "sim", "--no-mqtt", "--modbus-port", "0"]
    cmd += ["--plan-in", str(given), "--plan-out", str(plan_file), "--interval", "0.5"]
    cmd += ["--fault", "meter-0002:bearing_drift,point=active_power"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while "Ctrl-C" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert "4 devices" in text and "fault scheduled: meter-0002:bearing_drift@0s" in text
        plan = orjson.loads(plan_file.read_bytes())["devices"]
        before = orjson.loads(given.read_bytes())["devices"]
        assert [(d["id"], d["secret"]) for d in plan] == [(d["id"], d["secret"]) for d in before]
        meter = next(d for d in plan if d["id"] == "meter-0001")
        assert f"modbus 127.0.0.1:{meter['connection']['port']} units 3-4" in text

        async def read() -> list[int]:
            client = AsyncModbusTcpClient(
                "127.0.0.1", port=meter["connection"]["port"], timeout=3, retries=0
            )
            async with asyncio.timeout(10):
                await client.connect()
                try:
                    rr = await client.read_input_registers(
                        0, count=2, device_id=meter["connection"]["unit"]
                    )
                finally:
                    client.close()
            assert not rr.isError()
            return list(rr.registers)

        assert asyncio.run(read()) != [0, 0]  # a phase voltage, as a float32
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert "Stopped after" in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
