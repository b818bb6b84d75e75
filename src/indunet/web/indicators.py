"""Which subsystems' counts ride on the federation's status report (``Federation.indicator``):
the federation may not import its siblings (``[tool.importlinter]``), so the composition
root joins them here, after every service is built.

- ``security``: assets, open vulnerability matches by severity, alerts of the last 24 hours
  by band, open cases (``security.indicators``);
- ``devices``: devices registered and online (``devices.indicators``).

What each count means is its subsystem's; the federation only bounds, sends and sums them.
"""

from __future__ import annotations

from indunet.devices import indicators as devices
from indunet.federation import Federation
from indunet.security import Security
from indunet.security import indicators as security
from indunet.web.state import AppState


def wire(state: AppState) -> None:
    """Register the indicators of the subsystems this process runs, when it runs a federation."""
    fed = state.services.get("federation")
    if not isinstance(fed, Federation):
        return
    if isinstance(state.services.get("security"), Security):
        fed.indicator("security", security.counts)
    if state.platform is not None:  # the device registry runs here
        fed.indicator("devices", devices.counts)
