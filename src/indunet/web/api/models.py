"""Device models (设备模型) API: list, import and export W3C WoT Thing Models.

Any signed-in user may read models. The platform administrator imports platform models;
an enterprise administrator imports models owned by their enterprise.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from starlette.concurrency import run_in_threadpool

from indunet import devices
from indunet.core import InvalidInput, Role
from indunet.web.deps import PlatformDep, UserDep, require

router = APIRouter(prefix="/models", tags=["models"])

EXAMPLE = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": "acme:press-200",
    "title": "Press",
    "titles": {"zh": "压力机", "en": "Press"},
    "version": {"model": "1.0.0"},
    "properties": {
        "force": {
            "type": "number",
            "unit": "kN",
            "minimum": 0,
            "maximum": 2000,
            "readOnly": True,
            "forms": [
                {
                    "href": "/0",
                    "modv:entity": "InputRegister",
                    "modv:type": "xsd:float",
                    "modv:zeroBasedAddressing": True,
                }
            ],
        }
    },
}
PROBLEMS = {
    "description": "the model breaks the W3C schema or Indunet's rules; `detail` lists "
    "every problem as {path, message}",
    "content": {
        "application/json": {
            "example": {
                "code": "model_invalid",
                "message": "the Thing Model has 1 problem(s): ...",
                "detail": [
                    {
                        "path": "$.properties.force.forms[0].modv:entity",
                        "message": "'Register' is not one of Coil, DiscreteInput, "
                        "HoldingRegister, InputRegister",
                    }
                ],
            }
        }
    },
}


def _binding(form: devices.Form) -> dict[str, Any]:
    if isinstance(form, devices.ModbusForm):
        return {
            "protocol": "modbus",
            "table": form.table,
            "address": form.address,
            "datatype": form.datatype,
            "scale": form.scale,
        }
    if isinstance(form, devices.OpcUaForm):
        return {"protocol": "opcua", "node_id": form.node_id}
    if isinstance(form, devices.MqttForm):
        return {"protocol": "mqtt", "topic": form.topic, "json_path": form.json_path}
    raise InvalidInput(f"a {type(form).__name__} is not a form of any known protocol")


def summary(model: devices.ThingModel, *, owner: int | None = None) -> dict[str, Any]:
    """API shape of a model: identity, titles, points with units, ranges and bindings."""
    return {
        "id": model.id,
        "version": model.version,
        "ref": model.ref,
        "title": model.title,
        "owner_enterprise_id": owner,
        "points": {
            p.name: {
                "type": p.type,
                "title": p.title,
                "unit": p.unit,
                "minimum": p.minimum,
                "maximum": p.maximum,
                "writable": p.writable,
                "bindings": [_binding(f) for f in p.forms],
            }
            for p in model.points.values()
        },
        "actions": {a.name: {"title": a.title, "input": a.input} for a in model.actions.values()},
        "events": {e.name: {"title": e.title} for e in model.events.values()},
    }


@router.get("")
def list_models(platform: PlatformDep, user: UserDep) -> list[dict[str, Any]]:
    """The latest version of every model you may see (platform models and your enterprise's)."""
    reg: devices.ModelRegistry = platform.models
    return [summary(m, owner=reg.owner(m.id)) for m in reg.list_for(user)]


@router.post("", status_code=201, responses={422: PROBLEMS})
async def import_model(
    doc: Annotated[
        dict[str, Any], Body(description="a W3C WoT Thing Model (JSON)", examples=[EXAMPLE])
    ],
    platform: PlatformDep,
    user: UserDep,
    response: Response,
) -> dict[str, Any]:
    """Import a model version; the same content again is accepted and changes nothing."""
    require(user, Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN)
    owner = None if user.role == Role.PLATFORM_ADMIN else user.enterprise_id
    reg: devices.ModelRegistry = platform.models
    model = await run_in_threadpool(reg.add, doc, enterprise_id=owner, actor=user.actor)
    response.headers["Location"] = f"/api/v1/models/{model.id}?version={model.version}"
    return summary(model, owner=reg.owner(model.id))


@router.get("/{model_id}")
def export_model(
    model_id: str, platform: PlatformDep, user: UserDep, version: str | None = None
) -> dict[str, Any]:
    """The Thing Model document of one version (default: the latest)."""
    reg: devices.ModelRegistry = platform.models
    reg.visible(user, model_id, version)
    return reg.export(model_id, version)


@router.get("/{model_id}/versions")
def model_versions(model_id: str, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """Every version of a model, oldest first, with the latest one summarised."""
    reg: devices.ModelRegistry = platform.models
    latest = reg.visible(user, model_id)
    return {
        "id": model_id,
        "versions": reg.versions(model_id),
        "latest": summary(latest, owner=reg.owner(model_id)),
    }
