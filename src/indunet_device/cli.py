"""``indunet-device``: keys and signed requests of an active identifier, from a shell.

    indunet-device keygen --algorithm sm2 --out device.key
    indunet-device pubkey device.key
    indunet-device announce --node https://node:8000 --handle 88.100.1/ai-1 --key device.key \\
        --status running --firmware 2.4.1 --location 24.48,118.09 --link 88.100.1/line-3
    indunet-device rotate --node https://node:8000 --handle 88.100.1/ai-1 --key device.key \\
        --new-key next.key
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from indunet_device.client import ActiveClient, ActiveError
from indunet_device.keys import generate, load_key


def _location(text: str) -> dict[str, float] | str:
    parts = text.split(",")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return text
    if len(nums) in (2, 3):
        return dict(zip(("lat", "lon", "alt"), nums, strict=False))
    return text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="indunet-device", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="make a key pair and print its HS_PUBKEY (base64)")
    k.add_argument("--algorithm", choices=("ed25519", "sm2"), default="sm2")
    k.add_argument("--out", type=Path, required=True, help="private key file (mode 600)")
    pk = sub.add_parser("pubkey", help="print the HS_PUBKEY (base64) of a key file")
    pk.add_argument("key", type=Path)
    for name, text in (("announce", "set status, firmware, location, links"), ("rotate", "")):
        s = sub.add_parser(name, help=text or "replace the key in the record by a new one")
        s.add_argument("--node", required=True, help="the node's URL, e.g. https://node:8000")
        s.add_argument("--handle", required=True, help="the device's identifier")
        s.add_argument("--key", type=Path, required=True, help="the private key file")
        if name == "announce":
            s.add_argument("--status")
            s.add_argument("--firmware")
            s.add_argument("--location", help="lat,lon[,alt] in degrees and metres, or text")
            s.add_argument("--link", action="append", help="an identifier or URL (repeatable)")
            s.add_argument("--device", help="the platform's device id this identifier belongs to")
        else:
            s.add_argument("--new-key", type=Path, required=True, help="the new key file")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; print the node's answer as JSON. Exit 1 when the node refuses."""
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        key = generate(args.algorithm)
        key.save(args.out)
        print(key.hs_pubkey())
        return 0
    if args.command == "pubkey":
        print(load_key(args.key).hs_pubkey())
        return 0
    client = ActiveClient(args.node, args.handle, load_key(args.key))
    try:
        if args.command == "announce":
            fields: dict[str, Any] = {}
            if args.status:
                fields["status"] = args.status
            if args.firmware:
                fields["firmware"] = args.firmware
            if args.location:
                fields["location"] = _location(args.location)
            if args.link:
                fields["links"] = args.link
            out = client.announce(device=args.device, **fields)
        else:
            out = client.rotate(load_key(args.new_key))
    except ActiveError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
