"""Config engine throughput: parse and build the domain model for 10,000 configs.

Machines here are noisy, so the figure that matters is the ratio to a
baseline measured in the same process on the same texts: Xen's own C parser
(libxlutil's ``xlu_cfg_readdata``, parse only, called through ctypes). The
absolute rate is printed too, against the target of 5,000 configs/s on one
core, so that batch jobs over thousands of guests never wait on parsing.

Run: .venv/bin/python bench/config_parse.py [--count N]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xenshift.config.document import decode, parse_config  # noqa: E402
from xenshift.config.domain import build_domain  # noqa: E402

TARGET_PER_SECOND = 5000


def corpus() -> list[str]:
    """The bundled xl configs that build a model (the realistic mix)."""
    texts = []
    for path in sorted((ROOT / "fixtures" / "configs").glob("*.cfg")):
        text = decode(path.read_bytes())
        build_domain(parse_config(text, str(path)))
        texts.append(text)
    return texts


def xenshift_pass(texts: list[str], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        build_domain(parse_config(texts[i % len(texts)], "bench.cfg"))
    return time.perf_counter() - start


def libxlu_pass(texts: list[str], count: int) -> float:
    lib = ctypes.CDLL("libxlutil.so.4.17")
    libc = ctypes.CDLL(None)
    lib.xlu_cfg_init.restype = ctypes.c_void_p
    lib.xlu_cfg_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.xlu_cfg_readdata.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.xlu_cfg_destroy.argtypes = [ctypes.c_void_p]
    libc.fopen.restype = ctypes.c_void_p
    libc.fclose.argtypes = [ctypes.c_void_p]
    report = libc.fopen(os.devnull.encode(), b"w")
    data = [t.encode() for t in texts]
    start = time.perf_counter()
    for i in range(count):
        raw = data[i % len(data)]
        cfg = lib.xlu_cfg_init(report, b"bench.cfg")
        lib.xlu_cfg_readdata(cfg, raw, len(raw))
        lib.xlu_cfg_destroy(cfg)
    elapsed = time.perf_counter() - start
    libc.fclose(report)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    texts = corpus()
    xenshift_pass(texts, 500)  # warm caches and imports
    ours = xenshift_pass(texts, args.count)
    theirs = libxlu_pass(texts, args.count)
    rate = args.count / ours
    print(f"configs:                 {args.count} ({len(texts)} distinct, "
          f"{sum(map(len, texts)) // len(texts)} bytes on average)")
    print(f"xenshift parse + model:  {rate:,.0f} configs/s ({ours:.2f} s)")
    print(f"libxlu parse only (C):   {args.count / theirs:,.0f} configs/s "
          f"({theirs:.2f} s)")
    print(f"time ratio xenshift/libxlu: {ours / theirs:.1f}x")
    verdict = "met" if rate >= TARGET_PER_SECOND else "NOT met"
    print(f"target {TARGET_PER_SECOND:,} configs/s on one core: {verdict}")


if __name__ == "__main__":
    main()
