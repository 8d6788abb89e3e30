"""Embedding throughput of the encoder's CUDA path: N soups through SentenceTransformerEncoder.

Soups are the bundled catalog's plus synthetic ones recombined from real rows (the same generator
as the other benchmarks), so their length distribution is the real one.  On CUDA the encoder runs
fp16 (hfmrs.embedding does ``model.half()``); batches are large and sentence-transformers sorts texts
by length inside ``encode`` so each batch pads little.  Prints texts/s, the projected time for 1M
soups and the GPU's peak memory.

GPU box, one command (from the repository root, venv installed with a CUDA build of torch):
  .venv/bin/python benchmarks/gpu_embed.py --n 1000000 --batch-size 1024
CPU smoke (200 soups):
  .venv/bin/python benchmarks/gpu_embed.py --smoke
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, header, peak_rss_mb, print_table, synthetic_catalog, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="Soups to embed.")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cuda', 'cpu'.")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--smoke", action="store_true", help="200 soups on CPU.")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu_embed.json")
    args = parser.parse_args(argv)
    limit = None
    if args.smoke:
        args.n, args.device, args.batch_size, limit = 200, "cpu", 64, 200
    report = header("GPU embed", args.smoke)

    import torch

    from hfmrs.embedding import SentenceTransformerEncoder
    from hfmrs.features import soup

    start = time.perf_counter()
    records, _ = synthetic_catalog(args.n, real_limit=limit)
    texts = [soup(r) for r in records]
    synth_s = time.perf_counter() - start
    start = time.perf_counter()
    encoder = SentenceTransformerEncoder(
        device=args.device, batch_size=args.batch_size, max_seq_length=args.max_seq_length
    )
    load_s = time.perf_counter() - start
    cuda = encoder.device.startswith("cuda")
    gpu: dict[str, Any] = {}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gb": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}
        torch.cuda.reset_peak_memory_stats()
    encoder.encode(texts[: min(len(texts), 2 * args.batch_size)])  # warm-up: kernels, allocator
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    vectors = encoder.encode(texts)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    rate = len(texts) / seconds
    report["result"] = {
        "device": encoder.device,
        "gpu": gpu,
        "fp16": cuda,
        "n": len(texts),
        "unique_soups": len(set(texts)),
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "synthesize_s": round(synth_s, 2),
        "load_s": round(load_s, 2),
        "encode_s": round(seconds, 2),
        "texts_per_s": round(rate, 1),
        "projected_1m_s": round(1_000_000 / rate, 1),
        "vectors_shape": list(vectors.shape),
        "gpu_peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_rss_mb": peak_rss_mb(),
    }
    r = report["result"]
    print_table(
        f"Encoder throughput, {r['device']}{' ' + gpu['name'] if gpu else ''}",
        ["N", "batch", "max_seq_length", "fp16", "encode s", "texts/s", "1M soups s", "GPU peak GB"],
        [
            [
                r["n"],
                r["batch_size"],
                r["max_seq_length"],
                r["fp16"],
                r["encode_s"],
                r["texts_per_s"],
                r["projected_1m_s"],
                r["gpu_peak_mem_gb"],
            ]
        ],
        note="Issue 9 reference: ~6,000 texts/s fp16 on an H200 at max_seq_length 128; ~55/s on 2 CPU cores.",
    )
    print(f"wrote {write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
