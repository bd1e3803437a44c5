#!/usr/bin/env python3
"""onnxruntime reference timings for `lacuna-bench vision` (test/bench-time only).

Prints one JSON object: the median latency of a batch and images/s, on the same kind of
random input candle gets, with `--threads` intra-op threads.

A model exported with a fixed batch of 1 (like the default YOLOv12n) runs a batch of N as N
calls; the output says so (`sequential_batch`).
"""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
    fixed_size = inp.shape[2] if isinstance(inp.shape[2], int) else None
    if fixed_size is not None and fixed_size != args.size:
        print(json.dumps({"error": f"the model's input is fixed at {fixed_size} px, not {args.size}"}))
        return
    sequential = fixed_batch is not None and fixed_batch != args.batch
    per_call = fixed_batch if sequential else args.batch
    rng = np.random.default_rng(0)
    x = rng.random((per_call, 3, args.size, args.size), dtype=np.float32)
    calls = args.batch // per_call if sequential else 1

    def run():
        for _ in range(calls):
            session.run(None, {inp.name: x})

    for _ in range(args.warmup):
        run()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(json.dumps({
        "median_ms": median * 1000.0,
        "images_per_s": args.batch / median,
        "sequential_batch": sequential,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
