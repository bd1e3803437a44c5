"""Where onnxruntime's time goes, per yaml row, to set beside `lacuna-bench vision-profile --rows`.

Bench-time reference only (onnxruntime from scripts/setup-python.sh's .venv). Runs one ONNX
export on the CPU with onnxruntime's profiler on, then prints the wall time, the time per
operator type and the time per yaml row (nodes named `/model.<row>/...`; row -1 holds the
layout reorders onnxruntime inserts), each the median over the repeats:

    .venv/bin/python crates/bench/scripts/ort_profile.py yolov8n.onnx --size 320 --batch 8 --threads 1
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()[0]
    name = inputs.name
    if isinstance(inputs.shape[0], int) and inputs.shape[0] != args.batch:
        parser.error(f"{args.model}: the input's batch is fixed at {inputs.shape[0]}, not {args.batch}")
    x = np.random.default_rng(0).random((args.batch, 3, args.size, args.size), dtype=np.float32)
    for _ in range(3):
        session.run(None, {name: x})
    walls = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        session.run(None, {name: x})
        walls.append(time.perf_counter() - start)
    path = session.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)

    samples: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            key = (event["name"][: -len("_kernel_time")], event["args"].get("op_name", "?"))
            samples[key].append(event["dur"] / 1000)
    # The last `repeats` runs of each node are the timed ones (the first are the warm-up).
    nodes = [(node, op, statistics.median(d[-args.repeats :])) for (node, op), d in samples.items()]
    total = sum(ms for _, _, ms in nodes)
    print(
        f"onnxruntime {ort.__version__}: {args.model}, {args.size}x{args.size}, batch {args.batch}, "
        f"threads {args.threads}, median of {args.repeats}: wall {1000 * statistics.median(walls):.2f} ms, "
        f"nodes {total:.2f} ms"
    )
    by_op: collections.Counter[str] = collections.Counter()
    by_row: collections.Counter[int] = collections.Counter()
    for node, op, ms in nodes:
        by_op[op] += ms
        row = re.search(r"/model\.(\d+)/", node)
        by_row[int(row.group(1)) if row else -1] += ms
    for op, ms in by_op.most_common():
        if ms >= 0.005:
            print(f"  {op:<16} {ms:9.2f} ms  {100 * ms / total:5.1f}%")
    print("by row:")
    for row in sorted(by_row):
        print(f"  {row:>3} {by_row[row]:9.2f} ms  {100 * by_row[row] / total:5.1f}%")


if __name__ == "__main__":
    main()
