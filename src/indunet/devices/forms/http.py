"""HTTP forms: accepted (the device pushes to the platform), not mapped to a typed form."""

from __future__ import annotations

from indunet.devices.forms.common import FormBinding

BINDING = FormBinding(
    name="http",
    prefixes=(),
    schemes=("http", "https"),
    hint="an http(s):// href",
    read=None,
)
