"""The model registry (设备模型库): versioned Thing Models in the database, parsed in memory.

A model version is immutable: importing ``id@version`` again with the same content changes
nothing, with other content it is refused. The ``indunet:`` namespace belongs to the library
that ships with Indunet; a model id belongs to the enterprise (or the platform) that first
imported it.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import json
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, NotFound, PermissionDenied, User, access, audit
from indunet.devices.bundled import library_documents, library_models
from indunet.devices.models import ThingModel
from indunet.devices.tables import models as models_table
from indunet.devices.thingmodel import parse_model, semver_key

LIBRARY_NAMESPACE = "indunet:"


def digest(doc: dict[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON (key order and spacing do not count)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class ModelRegistry:
    """Every model version, kept parsed in memory and read through from the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], ThingModel] = {}
        self._owners: dict[str, int | None] = {}
        self._digests: dict[tuple[str, str], str] = {}
        self.reload()

    def reload(self) -> None:
        """Read every model version from the database."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(models_table)).mappings().all()
        with self._lock:
            self._models.clear()
            self._owners.clear()
            self._digests.clear()
            for r in rows:
                self._remember(
                    parse_model(r["document"], schema=False), r["enterprise_id"], r["digest"]
                )

    def _remember(self, model: ThingModel, owner: int | None, dig: str) -> None:
        self._models[(model.id, model.version)] = model
        self._owners.setdefault(model.id, owner)
        self._digests[(model.id, model.version)] = dig

    def add(
        self, doc: dict[str, Any], *, enterprise_id: int | None = None, actor: str
    ) -> ThingModel:
        """Validate and store a model version; the same content again is a no-op."""
        return self._store(parse_model(doc), doc, enterprise_id, actor)

    def _store(
        self, model: ThingModel, doc: dict[str, Any], enterprise_id: int | None, actor: str
    ) -> ThingModel:
        dig = digest(doc)
        key = (model.id, model.version)
        if key not in self._models:
            self._read_through(model.id)
        if model.id.startswith(LIBRARY_NAMESPACE) and enterprise_id is not None:
            raise PermissionDenied(
                f"model ids starting with {LIBRARY_NAMESPACE} are reserved for the Indunet "
                "library; choose your own namespace, e.g. acme:press-200",
                reason="model_library_reserved",
                params={"prefix": LIBRARY_NAMESPACE},
            )
        if model.id in self._owners and self._owners[model.id] != enterprise_id:
            raise PermissionDenied(
                f"model {model.id} belongs to another owner; import it under another id",
                reason="model_other_owner",
                params={"id": model.id},
            )
        existing = self._digests.get(key)
        if existing == dig:
            return self._models[key]
        if existing is not None:
            raise Conflict(
                f"model {model.ref} already exists with different content; a version cannot "
                f"change, so publish it as a new version (e.g. {_next_patch(model.version)})",
                reason="model_version_exists",
                params={"ref": model.ref, "next": _next_patch(model.version)},
            )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    models_table.insert().values(
                        model_id=model.id,
                        version=model.version,
                        enterprise_id=enterprise_id,
                        digest=dig,
                        document=doc,
                        created_by=actor,
                        created_at=datetime.now(UTC),
                    )
                )
                audit.record(
                    conn, actor, "model.create", f"model:{model.ref}", enterprise_id=enterprise_id
                )
        except sa.exc.IntegrityError:
            raise Conflict(f"model {model.ref} was imported at the same time; look again") from None
        with self._lock:
            self._remember(model, enterprise_id, dig)
        return model

    def _read_through(self, model_id: str) -> None:
        """Pick up versions another process stored."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(sa.select(models_table).where(models_table.c.model_id == model_id))
                .mappings()
                .all()
            )
        with self._lock:
            for r in rows:
                if (r["model_id"], r["version"]) not in self._models:
                    self._remember(
                        parse_model(r["document"], schema=False), r["enterprise_id"], r["digest"]
                    )

    def get(self, model_id: str, version: str | None = None) -> ThingModel:
        """One version, or the latest (by semantic version) when ``version`` is None."""
        found = self._find(model_id, version)
        if found is None:
            self._read_through(model_id)
            found = self._find(model_id, version)
        if found is None:
            what = f"{model_id}@{version}" if version else model_id
            raise NotFound(
                f"no model {what}; list them with GET /api/v1/models",
                reason="model_not_found",
                params={"id": what},
            )
        return found

    def _find(self, model_id: str, version: str | None) -> ThingModel | None:
        if version is not None:
            return self._models.get((model_id, version))
        versions = self.versions(model_id, read=False)
        return self._models[(model_id, versions[-1])] if versions else None

    def versions(self, model_id: str, *, read: bool = True) -> list[str]:
        """Versions of a model, oldest first."""
        if read:
            self._read_through(model_id)
        found = [v for (m, v) in list(self._models) if m == model_id]
        return sorted(found, key=semver_key)

    def owner(self, model_id: str) -> int | None:
        """The enterprise that owns a model id (None: the platform)."""
        return self._owners.get(model_id)

    def may_see(self, user: User, model_id: str) -> bool:
        """Platform and library models are everyone's; an enterprise's only its own
        (``core.access``)."""
        owner = self._owners.get(model_id)
        return owner is None or access.can_see(user, owner)

    def visible(self, user: User, model_id: str, version: str | None = None) -> ThingModel:
        """``get`` for ``user``: another enterprise's model is not found, like a missing one."""
        if not self.may_see(user, model_id):
            what = f"{model_id}@{version}" if version else model_id
            raise NotFound(
                f"no model {what}; list them with GET /api/v1/models",
                reason="model_not_found",
                params={"id": what},
            )
        return self.get(model_id, version)

    def usable_by(self, model_id: str, enterprise_id: int) -> ThingModel:
        """The latest version, if devices of ``enterprise_id`` may use the model (platform and
        library models, and the enterprise's own); another enterprise's is not found."""
        owner = self._owners.get(model_id)
        if owner is not None and owner != enterprise_id:
            raise NotFound(
                f"no model {model_id}; list them with GET /api/v1/models",
                reason="model_not_found",
                params={"id": model_id},
            )
        return self.get(model_id)

    def list_for(self, user: User) -> builtins.list[ThingModel]:
        """The latest version of every model ``user`` may see, sorted by id."""
        return [m for m in self.list() if self.may_see(user, m.id)]

    def list(self, *, all_versions: bool = False) -> list[ThingModel]:
        """The latest version of every model (or every version), sorted by id."""
        ids = sorted({m for m, _ in list(self._models)})
        out: builtins.list[ThingModel] = []
        for mid in ids:
            vs = self.versions(mid, read=False)
            out.extend(self._models[(mid, v)] for v in (vs if all_versions else vs[-1:]))
        return out

    def export(self, model_id: str, version: str | None = None) -> dict[str, Any]:
        """The model's Thing Model document as imported."""
        return copy.deepcopy(self.get(model_id, version).document)

    def install_library(self, actor: str) -> builtins.list[str]:
        """Store the library models not yet stored; return the refs added."""
        added: builtins.list[str] = []
        for i, doc in enumerate(library_documents()):
            key = (str(doc["indunet:modelId"]), str(doc["version"]["model"]))
            if key not in self._models:
                self._read_through(key[0])
            if self._digests.get(key) == digest(doc):
                continue  # installed: skip the parse (the W3C schema check is slow)
            model = self._store(library_models()[i], doc, None, actor)
            added.append(model.ref)
        return added


def _next_patch(version: str) -> str:
    major, minor, patch = semver_key(version)
    return f"{major}.{minor}.{patch + 1}"
