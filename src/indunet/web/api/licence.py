"""The operator's licence (标识解析服务许可) for anyone to read (``ids.licence``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from indunet.core import NotFound
from indunet.ids import licence
from indunet.web.deps import StateDep

router = APIRouter()


@router.get("/licence", tags=["nodes"], responses={404: {"description": "none configured"}})
def node_licence(state: StateDep) -> dict[str, Any]:
    """The licence this node's operator holds: number, holder, scope, validity and whether it
    is in force today (China Standard Time). Anonymous."""
    found = licence.licence_of(state.settings)
    if found is None:
        raise NotFound("this node shows no licence", reason="licence_not_configured")
    today = licence.today()
    return {
        "number": found.number,
        "holder": found.holder,
        "scope": found.scope,
        "valid_from": found.valid_from.isoformat() if found.valid_from else None,
        "valid_until": found.valid_until.isoformat() if found.valid_until else None,
        "status": found.status(today),
        "days_left": found.days_left(today),
    }
