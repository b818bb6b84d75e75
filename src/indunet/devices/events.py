"""The events devices publish on the bus (``core.Event`` envelopes), declared once."""

from indunet.core import EventType

SOURCE = "devices"
DEVICE_STATUS = EventType(
    "device.status", 1, SOURCE, "a device went online or offline (as recorded in its history)"
)

#: Every type above, for the bus's documentation and the envelope tests.
EVENT_TYPES = (DEVICE_STATUS,)
