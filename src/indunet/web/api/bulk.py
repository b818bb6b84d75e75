"""Bulk registration over the native API: upload a CSV or JSON Lines file, read a job's status."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from indunet import ids
from indunet.ids.bulkfiles import upload_name
from indunet.ids.bulkjobs import announce_finished, visible_job
from indunet.web.auth import principal_for_user
from indunet.web.deps import PathId, StateDep, UserDep

router = APIRouter(tags=["identifiers"])


def _import(
    state: StateDep,
    upload: UploadFile,
    principal: ids.Principal,
    overwrite: bool,
    enterprise_id: int | None,
) -> ids.BulkReport:
    """Copy the upload to a temporary file with its suffix, then import it."""
    name = upload_name(upload.filename)
    with tempfile.TemporaryDirectory(prefix="indunet-bulk-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        return ids.import_file(
            state.hierarchy.front,
            path,
            principal,
            overwrite=overwrite,
            source=name,
            enterprise_id=enterprise_id,
        )


@router.post("/bulk")
async def bulk_import(
    state: StateDep,
    user: UserDep,
    file: Annotated[UploadFile, File(description="a .csv, .jsonl or .ndjson file")],
    overwrite: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Register the identifiers of an uploaded file; bad rows are listed with line numbers."""
    principal = await run_in_threadpool(principal_for_user, state.engine, user)
    report: ids.BulkReport = await run_in_threadpool(
        _import, state, file, principal, overwrite, user.enterprise_id
    )
    await announce_finished(state.engine, state.bus, report.job_id)
    return report.to_json()


@router.get("/bulk/{job_id}")
def bulk_job(job_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Where a bulk import stands (counts, next line, errors): for its starter, its
    enterprise's users and overseers; another's job is not found, like any other."""
    return visible_job(state.engine, user, job_id).to_json()
