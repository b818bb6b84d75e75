"""One million random and mutated Handle protocol messages through the decoder.

Every message is decoded as a UDP packet and as a TCP message. Anything but ``WireError``
stops the run and prints the message; the run is bounded in time (``--seconds``). Printed:
messages, how many decoded, refusals by reason, the largest message, the peak memory of the
whole process (ru_maxrss) and the largest single-decode peak measured by tracemalloc on a
sample.

    python bench/wire_fuzz.py                  # 1,000,000 messages, at most 900 s
    python bench/wire_fuzz.py --count 20000    # a quick check
"""

from __future__ import annotations

import argparse
import random
import resource
import struct
import sys
import time
import tracemalloc
from collections import Counter

from indunet.ids.wire import codec

SAMPLE_EVERY = 997  # decodes measured with tracemalloc


def _str(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def seeds() -> list[bytes]:
    """Valid requests of each decoded kind."""
    value = codec.WireValue(
        1, b"URL", b"https://a.example.cn/x", 1_700_000_000, 0, 86400, 14, ((b"88/r", 2),)
    )
    bodies = [
        (1, _str(b"88.100.1/PUMP-1") + struct.pack(">I", 0) + struct.pack(">I", 0)),
        (1, _str(b"88/x") + struct.pack(">Iii", 2, 1, 100) + struct.pack(">I", 1) + _str(b"URL")),
        (2, b""),
        (100, _str(b"88.100.1/NEW") + codec.encode_value_list([value, value])),
        (102, _str(b"88.100.1/PUMP-1") + codec.encode_value_list([value])),
        (103, _str(b"88/x") + struct.pack(">Iii", 2, 1, 2)),
        (101, _str(b"88/x")),
    ]
    out = []
    for op, body in bodies:
        msg = struct.pack(">iiIHBBiI", op, 0, codec.FLAG_RD, 0, 0, 0, 0, len(body))
        msg += body + b"\0\0\0\0"
        out.append(struct.pack(">BBHiiiI", 2, 10, 0, 0, 1, 0, len(msg)) + msg)
    return out


INTERESTING = [0, 1, 4, 20, 24, 255, 256, 492, 512, 65535, 2**31 - 1, 2**31, 2**32 - 1]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        kind = rng.randrange(5)
        at = rng.randrange(len(b)) if b else 0
        if kind == 0 and b:
            b[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and b:
            b[at] = rng.randrange(256)
        elif kind == 2:
            del b[at:]
        elif kind == 3:
            b[at:at] = rng.randbytes(rng.randint(1, 16))
        elif len(b) >= at + 4:
            struct.pack_into(">I", b, at, rng.choice(INTERESTING))
    if len(b) >= 20 and rng.random() < 0.6:  # keep the envelope's length true, to go deeper
        struct.pack_into(">I", b, 16, len(b) - 20)
    return bytes(b)


def message(rng: random.Random, pool: list[bytes]) -> bytes:
    r = rng.random()
    if r < 0.2:
        return rng.randbytes(rng.randint(0, 600))
    if r < 0.3:  # a plausible envelope in front of random bytes
        tail = rng.randbytes(rng.randint(0, 500))
        return struct.pack(">BBHiiiI", 2, 10, 0, 0, 1, 0, len(tail)) + tail
    return mutate(rng, rng.choice(pool))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=900.0)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    reasons: Counter[str] = Counter()
    decoded = longest = peak_one = 0
    t0 = time.perf_counter()
    done = 0
    for done in range(1, args.count + 1):
        data = message(rng, pool)
        longest = max(longest, len(data))
        sampled = done % SAMPLE_EVERY == 0
        if sampled:
            tracemalloc.start()
        for udp in (True, False):
            try:
                codec.decode_request(data, udp=udp)
                decoded += 1
            except codec.WireError as exc:
                reasons[exc.reason] += 1
            except Exception as exc:
                print(f"CRASH {type(exc).__name__}: {exc}\nmessage: {data.hex()}")
                return 1
        if sampled:
            peak_one = max(peak_one, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        if done % 5000 == 0 and time.perf_counter() - t0 > args.seconds:
            print(f"stopped at the time bound ({args.seconds:g} s)")
            break
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"messages:        {done:,} ({2 * done:,} decodes, UDP and TCP) in {elapsed:.1f} s")
    print(f"decoded:         {decoded:,}")
    print("refused:         " + ", ".join(f"{k} {v:,}" for k, v in reasons.most_common()))
    print("crashes:         0")
    print(f"longest message: {longest:,} bytes")
    print(f"peak one decode: {peak_one:,} bytes (tracemalloc, every {SAMPLE_EVERY}th message)")
    print(f"peak RSS:        {rss / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
