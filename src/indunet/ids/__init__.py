"""The identifier resolution system (标识解析体系): records, templates, nodes, resolution."""

from pathlib import Path

from indunet.ids import changelog, daily
from indunet.ids.admin import OPERATOR, CredentialChecker, Perm, Principal
from indunet.ids.announce import AnnounceFailed, announce
from indunet.ids.answers import Answer, Hop, Referral, Site
from indunet.ids.bulk import import_file
from indunet.ids.bulkjobs import BulkJob, BulkReport, get_job
from indunet.ids.daily import DayCount, PrefixCount
from indunet.ids.errors import (
    HTTP_STATUS,
    RC,
    AuthenticationFailed,
    AuthenticationNeeded,
    HandleError,
    HandleExists,
    HandleNotFound,
    InvalidHandle,
    InvalidValue,
    NotAuthorized,
    NotResponsible,
    ReadOnlyCopy,
    SiteUnavailable,
    ValueExists,
    ValuesNotFound,
)
from indunet.ids.hierarchy import Hierarchy, delegate, embedded, single, stored_base_url
from indunet.ids.node import Node, NodeRole
from indunet.ids.prefixes import (
    Allocation,
    admin_username,
    allocate,
    enterprise_prefixes,
    list_allocations,
)
from indunet.ids.replica import Replica, ReplicaStatus, primary_of
from indunet.ids.resolver import Resolver
from indunet.ids.sites import SiteLimits, SitePolicy, SiteRefused
from indunet.ids.syntax import ecode, gs1, handle, oid
from indunet.ids.templates import Template, TemplateItem, TemplateRegistry, parse_template
from indunet.ids.transport import HttpTransport, LocalTransport, NodeTransport, SiteError
from indunet.ids.values import HandleValue, parse_values

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"

__all__ = [
    "HTTP_STATUS",
    "MIGRATIONS",
    "OPERATOR",
    "RC",
    "Allocation",
    "AnnounceFailed",
    "Answer",
    "AuthenticationFailed",
    "AuthenticationNeeded",
    "BulkJob",
    "BulkReport",
    "CredentialChecker",
    "DayCount",
    "HandleError",
    "HandleExists",
    "HandleNotFound",
    "HandleValue",
    "Hierarchy",
    "Hop",
    "HttpTransport",
    "InvalidHandle",
    "InvalidValue",
    "LocalTransport",
    "Node",
    "NodeRole",
    "NodeTransport",
    "NotAuthorized",
    "NotResponsible",
    "Perm",
    "PrefixCount",
    "Principal",
    "ReadOnlyCopy",
    "Referral",
    "Replica",
    "ReplicaStatus",
    "Resolver",
    "Site",
    "SiteError",
    "SiteLimits",
    "SitePolicy",
    "SiteRefused",
    "SiteUnavailable",
    "Template",
    "TemplateItem",
    "TemplateRegistry",
    "ValueExists",
    "ValuesNotFound",
    "admin_username",
    "allocate",
    "announce",
    "changelog",
    "daily",
    "delegate",
    "ecode",
    "embedded",
    "enterprise_prefixes",
    "get_job",
    "gs1",
    "handle",
    "import_file",
    "list_allocations",
    "oid",
    "parse_template",
    "parse_values",
    "primary_of",
    "single",
    "stored_base_url",
]
