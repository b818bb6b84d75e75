"""Alerts and cases (告警与事件处置): the durable alert store the detection engine raises into,
and the case workflow alerts are promoted and merged into. docs/security/cases.md."""

from .alertquery import AlertFilter, find_alerts, get_alert
from .alertstore import ALERT_RAISED, AlertStats, AlertStore
from .evidence import MAX_EVIDENCE, EvidenceFiles, EvidenceTooLarge
from .merge import MERGE_WINDOW
from .model import (
    DISPOSITIONS,
    PAPS,
    SEVERITIES,
    SLA,
    STATUSES,
    TLPS,
    Case,
    Change,
    Evidence,
    Note,
    StoredAlert,
    Task,
    sla_state,
)
from .store import CaseFilter, Cases
from .summary import AlertsCommitted, alert_summary
from .work import add_note, add_task, notes_of, set_task_done, tasks_of

__all__ = [
    "ALERT_RAISED",
    "DISPOSITIONS",
    "MAX_EVIDENCE",
    "MERGE_WINDOW",
    "PAPS",
    "SEVERITIES",
    "SLA",
    "STATUSES",
    "TLPS",
    "AlertFilter",
    "AlertStats",
    "AlertStore",
    "AlertsCommitted",
    "Case",
    "CaseFilter",
    "Cases",
    "Change",
    "Evidence",
    "EvidenceFiles",
    "EvidenceTooLarge",
    "Note",
    "StoredAlert",
    "Task",
    "add_note",
    "add_task",
    "alert_summary",
    "find_alerts",
    "get_alert",
    "notes_of",
    "set_task_done",
    "sla_state",
    "tasks_of",
]
