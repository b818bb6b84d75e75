"""The passive OT sensor: packets in (a pcap/pcapng file or a live interface), industrial
protocol transactions out (``Transaction``), fed to the hub or shipped to a running Indunet."""

from .records import PROTOCOLS, Transaction

__all__ = ["PROTOCOLS", "Transaction"]
