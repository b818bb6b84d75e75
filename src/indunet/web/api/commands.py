"""Device commands (指令下发) API: write a point or invoke an action, and the history.

Platform admins and the admins of the device's enterprise may command; enterprise users and
regulators read the history. A refused command answers 4xx and is not recorded; a command
the device failed answers 502, one it did not answer in time 504, both naming the command.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from indunet import telemetry
from indunet.web.deps import PlatformDep, UserDep
from indunet.web.platform import Platform

router = APIRouter(tags=["commands"])


class CommandIn(BaseModel):
    """Either a point with its new value, or an action with its input."""

    model_config = ConfigDict(extra="forbid")

    point: str | None = Field(default=None, examples=["speed_setpoint"])
    value: Any = Field(default=None, examples=[1500])
    action: str | None = Field(default=None, examples=["reset"])
    input: Any = Field(default=None, description="the action's input, as its schema says")


def _commands(platform: Platform) -> telemetry.Commands:
    commands: telemetry.Commands | None = platform.commands
    if commands is None:
        raise RuntimeError("this platform sends no commands")
    return commands


@router.post("/devices/{device_id}/commands")
async def send_command(
    device_id: str, body: CommandIn, platform: PlatformDep, user: UserDep
) -> dict[str, Any]:
    """Send a command and wait for the device's answer (10 s by default)."""
    command = await _commands(platform).request(
        user, device_id, point=body.point, value=body.value, action=body.action, payload=body.input
    )
    return command.to_json()


@router.get("/devices/{device_id}/commands")
def command_history(
    device_id: str,
    platform: PlatformDep,
    user: UserDep,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[dict[str, Any]]:
    """The device's commands, newest first."""
    return [c.to_json() for c in _commands(platform).history(user, device_id, limit=limit)]
