"""Bulk import jobs run in the background of a server: the console's and the API's.

An upload is copied under the data directory (``upload_dir``), checked as a whole and given
its job (``prepare``: format, header, size; nothing registered yet), and the answer goes
back at once with the job's id. ``start`` then runs the import in a worker thread, saving
the job's counts with every committed batch, which is what ``GET /api/v1/bulk/{id}`` and
the console's progress bar read; when it ends the file is removed and ``bulk.finished``
published.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from indunet.core import User
from indunet.ids import Principal
from indunet.ids import bulk as ids_bulk
from indunet.ids.bulkjobs import Job, announce_finished
from indunet.web.auth import principal_for_user
from indunet.web.state import AppState

log = logging.getLogger(__name__)
#: Jobs this process is running now, by id.
running: dict[int, asyncio.Task[None]] = {}


def upload_dir(state: AppState) -> Path:
    """Where uploaded files wait while their job runs."""
    return state.settings.data_dir / "bulk"


def kept_file(state: AppState, job_id: int) -> Path | None:
    """The uploaded file a job reads, while it is kept."""
    for path in upload_dir(state).glob(f"job-{job_id}.*"):
        return path
    return None


def prepare(state: AppState, user: User, path: Path, name: str) -> tuple[Principal, Job, Path]:
    """Check the staged upload ``path`` as a whole and start (or find) its job; the file is
    kept as ``job-<id>.<suffix>`` (blocking)."""
    principal = principal_for_user(state.engine, user)
    job = ids_bulk.begin(
        state.hierarchy.front, path, principal, source=name, enterprise_id=user.enterprise_id
    )
    kept = upload_dir(state) / f"job-{job.id}{path.suffix}"
    if kept.exists():  # the same file again while its job waits: keep the first copy
        path.unlink()
    else:
        path.rename(kept)
    return principal, job, kept


def start(
    state: AppState,
    principal: Principal,
    job: Job,
    path: Path,
    name: str,
    overwrite: bool,
    *,
    batch_size: int,
) -> None:
    """Run ``job`` in a worker thread unless it runs already; publish ``bulk.finished`` and
    drop the file when done."""

    async def work() -> None:
        try:
            report = await asyncio.to_thread(
                ids_bulk.run,
                state.hierarchy.front,
                path,
                principal,
                job,
                overwrite=overwrite,
                batch_size=batch_size,
                source=name,
            )
            await asyncio.to_thread(path.unlink, missing_ok=True)
            await announce_finished(state.engine, state.bus, report.job_id)
        except Exception:
            log.exception("bulk import job %s stopped; it can be resumed from its page", job.id)
        finally:
            running.pop(job.id, None)

    if job.id not in running:
        running[job.id] = asyncio.get_running_loop().create_task(work())
