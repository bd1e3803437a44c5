#!/usr/bin/env python3
"""Fails when the workspace's dependency graph breaks the layering in docs/ARCHITECTURE.md.

Two rules, checked on `cargo metadata`:
1. each heavy third-party crate is a direct dependency of its owner crate(s) only;
2. workspace crates depend only on crates of a lower layer (never sideways or upwards).

Run: python3 scripts/check_deps.py            (reads `cargo metadata`)
     python3 scripts/check_deps.py --self-test (checks the checker on made-up graphs)
"""
import json
import subprocess
import sys

# heavy dependency -> the workspace crates allowed to use it directly
OWNERS = {
    "rusqlite": {"lacuna-catalog"},
    "libsqlite3-sys": {"lacuna-catalog"},
    "candle-core": {"lacuna-vision"},
    "candle-nn": {"lacuna-vision"},
    "candle-transformers": {"lacuna-vision"},
    "candle-onnx": {"lacuna-vision"},
    "prost": {"lacuna-vision"},
    "safetensors": {"lacuna-vision"},
    "image": {"lacuna-ingest", "lacuna-vision"},
    "turbojpeg": {"lacuna-ingest"},
    "kamadak-exif": {"lacuna-ingest"},
    "walkdir": {"lacuna-ingest"},
    "quick-xml": {"lacuna-export"},
    "serde_yaml_ng": {"lacuna-export"},
    "png": {"lacuna-export"},
    "tauri": {"lacuna-desktop"},
    "axum": {"lacuna-server"},
    "tokio": {"lacuna-server", "lacuna-desktop"},
    "rfd": {"lacuna-desktop"},
    "clap": {"lacuna-cli", "lacuna-bench"},
    "indicatif": {"lacuna-cli"},
}

# workspace crate -> layer; a crate may depend only on crates of a strictly lower layer
LAYERS = {
    "lacuna-core": 0,
    "lacuna-catalog": 1,
    "lacuna-ingest": 1,
    "lacuna-vision": 1,
    "lacuna-select": 1,
    "lacuna-export": 1,
    "lacuna-api": 2,
    "lacuna-app": 3,
    "lacuna-server": 4,
    "lacuna-desktop": 4,
    "lacuna-cli": 5,
    "lacuna-bench": 5,
}


def violations(metadata):
    members = set(metadata["workspace_members"])
    problems = []
    for package in metadata["packages"]:
        if package["id"] not in members:
            continue
        name = package["name"]
        if name not in LAYERS:
            problems.append(f"{name}: not in the layer table of scripts/check_deps.py; add it (and to docs/ARCHITECTURE.md)")
            continue
        for dep in package["dependencies"]:
            dep_name = dep["name"]
            kind = dep.get("kind") or "normal"
            owners = OWNERS.get(dep_name)
            if owners is not None and name not in owners and kind != "dev":
                problems.append(f"{name} depends on {dep_name}, which only {', '.join(sorted(owners))} may use")
            if dep_name in LAYERS and kind != "dev":
                if LAYERS[dep_name] >= LAYERS[name]:
                    problems.append(
                        f"{name} (layer {LAYERS[name]}) depends on {dep_name} (layer {LAYERS[dep_name]}): dependencies must point down"
                    )
    return sorted(problems)


def self_test():
    def meta(pkgs):
        return {
            "workspace_members": [f"{n} 0.1.0" for n in pkgs],
            "packages": [
                {"id": f"{n} 0.1.0", "name": n, "dependencies": [{"name": d, "kind": None} for d in deps]}
                for n, deps in pkgs.items()
            ],
        }

    good = meta({"lacuna-core": [], "lacuna-catalog": ["lacuna-core", "rusqlite"], "lacuna-api": ["lacuna-catalog"]})
    assert violations(good) == [], violations(good)
    heavy = meta({"lacuna-core": [], "lacuna-api": ["rusqlite"]})
    assert any("rusqlite" in v for v in violations(heavy)), violations(heavy)
    upward = meta({"lacuna-core": ["lacuna-api"], "lacuna-api": []})
    assert any("must point down" in v for v in violations(upward)), violations(upward)
    sideways = meta({"lacuna-catalog": ["lacuna-ingest"], "lacuna-ingest": []})
    assert any("must point down" in v for v in violations(sideways)), violations(sideways)
    unknown = meta({"lacuna-mystery": []})
    assert any("layer table" in v for v in violations(unknown)), violations(unknown)
    print("check_deps self-test: 5 passed, 0 failed")


def main():
    if "--self-test" in sys.argv:
        self_test()
        return 0
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    problems = violations(json.loads(out))
    for p in problems:
        print(f"dependency rule broken: {p}", file=sys.stderr)
    if problems:
        return 1
    print("dependency rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
