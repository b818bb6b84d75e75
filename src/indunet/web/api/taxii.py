"""TAXII 2.1 server (OASIS TAXII 2.1, §4–5): threat sharing over HTTP for TAXII clients.

One API root, ``/taxii2/api1/``, found from the discovery resource ``/taxii2/``. Each
enterprise's collection, the installation's (overseers only), every version of every object
kept (``security.sharing.store``). Rights, paging and limits: docs/security/taxii.md.

- ``GET /taxii2/`` discovery; ``GET /taxii2/api1/`` the API root; ``GET …/status/{id}/``;
- ``GET …/collections/`` and ``…/collections/{id}/`` with ``can_read``/``can_write`` for the
  caller; another enterprise's collection is 404, exactly like a missing one;
- ``GET …/objects/`` (``added_after``, ``limit``, ``next``, ``match[id|type|version|
  spec_version]``), ``GET …/objects/{object_id}/``, ``…/objects/{object_id}/versions/``,
  ``…/manifest/``: pages with ``more``/``next`` and ``X-TAXII-Date-Added-First/Last``;
- ``POST …/objects/`` (write rights; an envelope, at most ``MAX_BODY`` bytes): all or
  nothing, 202 with a complete status resource;
- ``DELETE …/objects/{object_id}/`` (write rights): the versions ``match[version]`` selects,
  every one by default.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from indunet.core import NotFound, User, access, audit
from indunet.core.sealed import for_engine
from indunet.security.sharing import import_objects, parse, query, rights, store
from indunet.security.sharing.stixids import id_type, now_stamp
from indunet.security.sharing.store import Outcome, Stored
from indunet.web.api.security_events import read_body, security_of
from indunet.web.api.taxii_http import (
    STIX,
    TAXII,
    added_headers,
    answer,
    caller,
    check_content_type,
    taxii_route,
)
from indunet.web.state import AppState

router = APIRouter(tags=["taxii"])
ROOT = "/taxii2"
API_ROOT = f"{ROOT}/api1"
MAX_BODY = 16 * 1024 * 1024
"""A POSTed envelope, at most (the API root's ``max_content_length``)."""
_COLLECTION = f"{API_ROOT}/collections/{{collection_id}}"


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.indunet
    security_of(state)  # 404 where this process runs no security service
    return state


def _collection_info(col: store.Collection, user: User) -> dict[str, Any]:
    return {
        "id": col.id,
        "title": col.title,
        "description": col.description,
        "can_read": True,
        "can_write": rights.can_write(user, col),
        "media_types": [STIX],
    }


@router.get(f"{ROOT}/", summary="TAXII discovery")
@taxii_route
async def discovery(request: Request) -> Response:
    """The TAXII server's discovery resource: its one API root."""
    _state(request)
    await caller(request)
    base = str(request.base_url).rstrip("/")
    return answer(
        {
            "title": "Indunet TAXII 2.1",
            "description": "Threat sharing of this Indunet installation (STIX 2.1)",
            "default": f"{base}{API_ROOT}/",
            "api_roots": [f"{base}{API_ROOT}/"],
        }
    )


@router.get(f"{API_ROOT}/", summary="TAXII API root")
@taxii_route
async def api_root(request: Request) -> Response:
    """The API root's information."""
    _state(request)
    await caller(request)
    return answer(
        {
            "title": "Indunet threat sharing",
            "description": "One collection per enterprise; overseers read every collection",
            "versions": [TAXII],
            "max_content_length": MAX_BODY,
        }
    )


@router.get(f"{API_ROOT}/status/{{status_id}}/", summary="TAXII status")
@taxii_route
async def get_status(request: Request, status_id: str) -> Response:
    """The status resource of an earlier add (its collection's readers only)."""
    state = _state(request)
    user = await caller(request)

    def read() -> bytes:
        with state.engine.connect() as conn:
            found = store.status(conn, status_id)
        if found is None or not access.can_see(user, found[0]):
            raise NotFound(f"no status {status_id[:100]}")
        return found[1]

    return Response(await run_in_threadpool(read), media_type=TAXII)


@router.get(f"{API_ROOT}/collections/", summary="TAXII collections")
@taxii_route
async def get_collections(request: Request) -> Response:
    """The collections the caller may read, with what they may do in each."""
    state = _state(request)
    user = await caller(request)

    def read() -> list[store.Collection]:
        with state.engine.begin() as conn:
            return rights.visible(conn, user)

    found = await run_in_threadpool(read)
    infos = [_collection_info(c, user) for c in found]
    return answer({"collections": infos} if infos else {})


@router.get(f"{_COLLECTION}/", summary="TAXII collection")
@taxii_route
async def get_collection(request: Request, collection_id: str) -> Response:
    """One collection (404 if the caller may not read it)."""
    state = _state(request)
    user = await caller(request)
    cid = collection_id

    def read() -> store.Collection:
        with state.engine.connect() as conn:
            return rights.readable(conn, user, cid)

    return answer(_collection_info(await run_in_threadpool(read), user))


def _envelope(
    request: Request,
    state: AppState,
    user: User,
    *,
    scope: str,
    kind: str,
    stix_id: str | None = None,
) -> Response:
    """One page of a collection: objects, a manifest or versions (``kind``)."""
    cid = request.path_params["collection_id"]
    params = dict(request.query_params)
    allow = frozenset({"id", "type"}) if stix_id is None else frozenset()
    f = query.read_filters(params, allow=allow)
    if kind == "versions":
        f = query.Filters(f.added_after, (), (), ("all",), f.spec_versions)
    limit = query.read_limit(params.get("limit"))
    sealer = for_engine(state.engine)
    with state.engine.connect() as conn:
        col = rights.readable(conn, user, cid)
        after = None
        if params.get("next"):
            after = query.open_cursor(sealer, params["next"], col.id, scope, f)
        rows, more = query.page(conn, col.id, f, limit, after, stix_id=stix_id)
        if stix_id is not None and not rows and not query.exists(conn, col.id, stix_id):
            raise NotFound(f"no object {stix_id[:300]} in collection {col.id}")
    head: dict[str, Any] = {"more": more} if rows else {}
    if more:
        head["next"] = query.seal_cursor(sealer, col.id, scope, f, rows[-1])
    headers = added_headers(rows[0].date_added, rows[-1].date_added) if rows else {}
    return Response(_join(head, kind, rows), media_type=TAXII, headers=headers)


def _join(head: dict[str, Any], kind: str, rows: list[Stored]) -> bytes:
    if not rows:
        return orjson.dumps(head)
    if kind == "objects":
        items = b",".join(r.body for r in rows)
    elif kind == "versions":
        items = b",".join(orjson.dumps(r.version) for r in rows)
    else:
        items = b",".join(
            orjson.dumps(
                {
                    "id": r.stix_id,
                    "date_added": r.date_added,
                    "version": r.version,
                    "media_type": STIX,
                }
            )
            for r in rows
        )
    name = b"versions" if kind == "versions" else b"objects"
    return orjson.dumps(head)[:-1] + b',"' + name + b'":[' + items + b"]}"


@router.get(f"{_COLLECTION}/objects/", summary="TAXII get objects")
@taxii_route
async def get_objects(request: Request, collection_id: str) -> Response:
    """A page of the collection's objects (filters, ``limit``, ``next``)."""
    state = _state(request)
    user = await caller(request)
    return await run_in_threadpool(_envelope, request, state, user, scope="objects", kind="objects")


@router.get(f"{_COLLECTION}/manifest/", summary="TAXII manifest")
@taxii_route
async def get_manifest(request: Request, collection_id: str) -> Response:
    """A page of the collection's manifest (id, date added, version, media type)."""
    state = _state(request)
    user = await caller(request)
    return await run_in_threadpool(
        _envelope, request, state, user, scope="manifest", kind="manifest"
    )


def _object_id(request: Request) -> str:
    stix_id = str(request.path_params["object_id"])
    if id_type(stix_id) is None:
        raise NotFound(f"no object {stix_id[:300]}")
    return stix_id


@router.get(f"{_COLLECTION}/objects/{{object_id}}/", summary="TAXII get an object")
@taxii_route
async def get_object(request: Request, collection_id: str, object_id: str) -> Response:
    """The versions of one object the filters select (the newest by default)."""
    state = _state(request)
    user = await caller(request)
    stix_id = _object_id(request)
    return await run_in_threadpool(
        _envelope,
        request,
        state,
        user,
        scope=f"object:{stix_id}",
        kind="objects",
        stix_id=stix_id,
    )


@router.get(f"{_COLLECTION}/objects/{{object_id}}/versions/", summary="TAXII object versions")
@taxii_route
async def get_versions(request: Request, collection_id: str, object_id: str) -> Response:
    """Every version of one object, oldest added first."""
    state = _state(request)
    user = await caller(request)
    stix_id = _object_id(request)
    return await run_in_threadpool(
        _envelope,
        request,
        state,
        user,
        scope=f"versions:{stix_id}",
        kind="versions",
        stix_id=stix_id,
    )


@router.post(f"{_COLLECTION}/objects/", summary="TAXII add objects", status_code=202)
@taxii_route
async def add_objects(request: Request, collection_id: str) -> Response:
    """Add an envelope's objects (all or nothing); 202 with the status resource."""
    state = _state(request)
    user = await caller(request)
    cid = collection_id

    def may_write() -> None:
        with state.engine.connect() as conn:
            rights.writable(conn, user, cid)

    await run_in_threadpool(may_write)  # 404/403 before the body is read
    check_content_type(request)
    body = await read_body(request, MAX_BODY)
    items = parse(body, envelope=True)
    requested = now_stamp()

    def keep() -> dict[str, Any]:
        with state.engine.begin() as conn:
            col = rights.writable(conn, user, cid)
            done = import_objects(conn, col.id, items)
            resource = store.status_resource(str(uuid.uuid4()), requested, done.results)
            store.save_status(conn, col, resource)
            audit.record(
                conn,
                user.actor,
                "sharing.objects_added",
                f"collection {col.id}",
                {
                    "added": done.count(Outcome.ADDED),
                    "same": done.count(Outcome.SAME),
                    "older": done.count(Outcome.OLDER),
                    "status": resource["id"],
                },
                enterprise_id=col.enterprise_id,
            )
            return resource

    return answer(await run_in_threadpool(keep), 202)


@router.delete(f"{_COLLECTION}/objects/{{object_id}}/", summary="TAXII delete an object")
@taxii_route
async def delete_object(request: Request, collection_id: str, object_id: str) -> Response:
    """Delete the object's versions ``match[version]`` selects (every version by default;
    write rights); 200 with no body, 404 if none was there."""
    state = _state(request)
    user = await caller(request)
    stix_id = _object_id(request)
    params = dict(request.query_params)
    if "match[version]" not in params:
        params["match[version]"] = "all"
    f = query.read_filters(params, allow=frozenset())

    def remove() -> None:
        with state.engine.begin() as conn:
            col = rights.writable(conn, user, collection_id)
            gone = query.delete(conn, col.id, stix_id, f)
            if not gone:
                raise NotFound(f"no object {stix_id} in collection {col.id}")
            audit.record(
                conn,
                user.actor,
                "sharing.object_deleted",
                f"{stix_id} in collection {col.id}",
                {"versions": gone},
                enterprise_id=col.enterprise_id,
            )

    await run_in_threadpool(remove)
    return Response(status_code=200, media_type=TAXII)


def mount(app: Any, state: AppState) -> None:
    """Add the TAXII routes at the root (``/taxii2/``, where TAXII clients look)."""
    del state
    app.include_router(router)


__all__ = ["MAX_BODY", "mount", "router"]
