"""A misbehaving host for the virtual factory: what the security pages of the demo detect.

``Intruder`` plays an engineering laptop that should not be there: from an address that is not
one of the plant's Modbus masters (127.0.0.66 by default: on Linux every 127.0.0.0/8 address
is the loopback interface's), it sweeps the gateways' units with the device-identification
request (function 43/14) and "report server id" (17), reads a coil of the first unit, then
writes the value it read back (function 5, then 15): a write that changes nothing on the
equipment, but a write all the same. It does this once a round, every ``every`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

log = logging.getLogger(__name__)
INTRUDER_ADDRESS = "127.0.0.66"


class Intruder:
    """Scans and writes the Modbus gateways at ``targets`` ((host, port, units) each)."""

    def __init__(
        self,
        targets: Sequence[tuple[str, int, int]],
        source: str = INTRUDER_ADDRESS,
        every: float = 30.0,
        first_after: float = 10.0,
    ) -> None:
        self.targets = list(targets)
        self.source = source
        self.every = every
        self.first_after = first_after
        self.rounds = 0
        self.writes = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sim-intruder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after)
        while True:
            try:
                await self.round()
            except (OSError, ModbusException) as exc:
                log.info("intruder round failed (%s); trying again later", exc)
            await asyncio.sleep(self.every)

    async def round(self) -> None:
        """One sweep of every target, then a read and a write-back on each first unit."""
        for host, port, units in self.targets:
            client = AsyncModbusTcpClient(
                host, port=port, source_address=(self.source, 0), timeout=2, retries=0
            )
            try:
                if not await client.connect():
                    continue
                for unit in range(1, units + 1):
                    with contextlib.suppress(ModbusException):
                        await client.read_device_information(read_code=1, device_id=unit)
                    with contextlib.suppress(ModbusException):
                        await client.report_device_id(device_id=unit)
                read = await client.read_coils(0, count=1, device_id=1)
                if not read.isError():
                    value = bool(read.bits[0])
                    await client.write_coil(0, value, device_id=1)
                    await client.write_coils(0, [value], device_id=1)
                    self.writes += 2
            finally:
                client.close()
        self.rounds += 1
