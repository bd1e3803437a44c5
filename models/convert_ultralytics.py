#!/usr/bin/env python3
"""Convert an Ultralytics YOLO checkpoint (.pt) into weights Lacuna loads: safetensors + model card.

Optional tool, run once per model by whoever has the checkpoint; Lacuna itself never runs Python.
Needs `ultralytics` (which brings `torch`) and `safetensors`:

    python3 -m venv .venv-convert && .venv-convert/bin/pip install ultralytics safetensors
    .venv-convert/bin/python models/convert_ultralytics.py runs/detect/train/weights/best.pt \
        -o models/mymodel.safetensors

writes `models/mymodel.safetensors` and its card `models/mymodel.model.toml`.

Tensors keep the checkpoint's names (`model.0.conv.weight`, `model.0.bn.running_var`, ...).
By default batch-norm is kept (Lacuna folds it at load, with the epsilon recorded in the
`bn_eps` metadata key); `--fuse` folds it here with Ultralytics' own `model.fuse()` instead.
The safetensors `__metadata__` keys are documented in docs/models.md.

Supported: YOLOv8, YOLO11 and YOLOv12, detection and segmentation, scales n/s/m/l/x.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

FAMILIES = {"8": "v8", "11": "v11", "12": "v12"}
SCALES = "nsmlx"
TASKS = ("detect", "segment")


def fail(message: str) -> None:
    sys.exit(f"convert_ultralytics: {message}")


def guess_family_scale(*texts: str) -> tuple[str | None, str | None]:
    """'yolov8n.yaml' -> ('v8', 'n'); 'yolo11s-seg.yaml' -> ('v11', 's')."""
    for text in texts:
        m = re.search(r"yolo[_-]?v?(\d+)([nsmlx])?(?![a-z0-9])", Path(text).name.lower())
        if m:
            return FAMILIES.get(m.group(1), f"unsupported:{m.group(1)}"), m.group(2)
    return None, None


def square_size(value, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (list, tuple)):
        return int(max(value))
    return int(value)


def toml_value(value) -> str:
    # JSON string and list syntax (with non-ASCII kept) is valid TOML for strings and integers.
    return json.dumps(value, ensure_ascii=False)


def write_card(path: Path, card: dict) -> None:
    order = ["name", "family", "scale", "task", "input_size_px", "stride_px", "source", "license", "sha256"]
    lines = ["# Model card written by models/convert_ultralytics.py (see docs/models.md)."]
    lines += [f"{key} = {toml_value(card[key])}" for key in order if card.get(key) is not None]
    lines.append("class_names = [")
    lines += [f"    {toml_value(name)}," for name in card["class_names"]]
    lines.append("]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="Ultralytics .pt checkpoint")
    ap.add_argument("-o", "--output", type=Path, help="output .safetensors (default: beside the checkpoint)")
    ap.add_argument("--fuse", action="store_true", help="fold batch-norm into the convolutions here")
    ap.add_argument("--half", action="store_true", help="store float16 instead of float32")
    ap.add_argument("--name", help="model name for the card (default: the output's stem)")
    ap.add_argument("--family", choices=sorted(FAMILIES.values()), help="override the detected family")
    ap.add_argument("--scale", choices=list(SCALES), help="override the detected scale")
    ap.add_argument("--imgsz", type=int, help="input size in pixels (default: the training imgsz, else 640)")
    ap.add_argument(
        "--license",
        default="AGPL-3.0",
        help="licence for the card (default AGPL-3.0, Ultralytics' licence for its models and "
        "models trained with it; use yours if you hold an Ultralytics Enterprise licence)",
    )
    ap.add_argument("--no-card", action="store_true", help="do not write <output stem>.model.toml")
    args = ap.parse_args()

    try:
        import torch
        import ultralytics
        from safetensors.torch import save_file
        from ultralytics import YOLO
    except ImportError as e:
        fail(f"{e}; install with: pip install ultralytics safetensors")

    if not args.checkpoint.is_file():
        fail(f"{args.checkpoint} does not exist")
    output = args.output or args.checkpoint.with_suffix(".safetensors")
    if output.suffix != ".safetensors":
        fail(f"the output must end in .safetensors, not {output.name}")

    yolo = YOLO(str(args.checkpoint))
    model = yolo.model  # DetectionModel / SegmentationModel (an nn.Module)
    task = yolo.task
    if task not in TASKS:
        fail(f"task {task!r} is not supported (supported: {', '.join(TASKS)})")
    names_dict = model.names  # {0: 'person', ...}
    class_names = [names_dict[i] for i in range(len(names_dict))]

    yaml = model.yaml if isinstance(model.yaml, dict) else {}
    family, scale = guess_family_scale(str(yaml.get("yaml_file", "")), args.checkpoint.name)
    family = args.family or family
    scale = args.scale or yaml.get("scale") or scale
    if family is None or family.startswith("unsupported"):
        fail(f"cannot tell the family (v8, v11, v12) from {yaml.get('yaml_file')!r}; pass --family")
    if scale not in tuple(SCALES):
        fail(f"cannot tell the scale (n, s, m, l, x) from {yaml.get('yaml_file')!r}; pass --scale")

    train_args = getattr(model, "args", None) or {}
    train_imgsz = train_args.get("imgsz") if isinstance(train_args, dict) else getattr(train_args, "imgsz", None)
    input_size = args.imgsz or square_size(train_imgsz, 640)
    stride = int(max(model.stride)) if hasattr(model, "stride") else 32
    if input_size % stride:
        fail(f"the input size {input_size} is not a multiple of the stride {stride}")

    model = model.float().eval()
    bn_eps = None
    if args.fuse:
        model = model.fuse(verbose=False)
    else:
        bns = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
        epss = {m.eps for m in bns.values()}
        odd = [n for n in bns if not n.endswith(".bn")]
        if odd or len(epss) > 1:
            print(
                "convert_ultralytics: batch-norm layers that Lacuna cannot fold by name "
                f"({odd[:3]}) or differing epsilons ({sorted(epss)}): folding them here",
                file=sys.stderr,
            )
            model = model.fuse(verbose=False)
        elif epss:
            bn_eps = epss.pop()

    dtype = torch.float16 if args.half else torch.float32
    tensors = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") or not key.startswith("model."):
            continue
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous().clone()

    name = args.name or output.stem
    source = f"{args.checkpoint.name} converted by models/convert_ultralytics.py (ultralytics {ultralytics.__version__})"
    metadata = {
        "format": "pt",
        "name": name,
        "family": family,
        "scale": scale,
        "task": task,
        "names": json.dumps(class_names, ensure_ascii=False),
        "imgsz": str(input_size),
        "stride": str(stride),
        "source": source,
    }
    if args.license:
        metadata["license"] = args.license
    if bn_eps is not None:
        metadata["bn_eps"] = repr(float(bn_eps))
    output.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(output), metadata=metadata)

    sha256 = hashlib.sha256(output.read_bytes()).hexdigest()
    print(f"wrote {output} ({len(tensors)} tensors, {len(class_names)} classes, {family}{scale} {task})")
    if not args.no_card:
        card_path = output.with_name(output.stem + ".model.toml")
        write_card(
            card_path,
            {
                "name": name,
                "family": family,
                "scale": scale,
                "task": task,
                "input_size_px": input_size,
                "stride_px": stride,
                "source": source,
                "license": args.license,
                "sha256": sha256,
                "class_names": class_names,
            },
        )
        print(f"wrote {card_path}")


if __name__ == "__main__":
    main()
