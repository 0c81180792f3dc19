"""Derive the SQS query-protocol wire traits from botocore 1.29.165's SQS model.

Current botocore ships SQS as a JSON-protocol model and has dropped what the older query
model said about element names (``locationName``), flattening, result wrappers and the
query error codes. Postroom still serves the query protocol, so this script extracts those
traits once into ``src/postroom/protocol/data/sqs-query-traits.json``; the protocol layer
overlays them on the current model at start-up.

Usage: python tools/gen_sqs_query_traits.py   (downloads the botocore 1.29.165 wheel with pip)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OLD_BOTOCORE = "botocore==1.29.165"
MODEL_PATH = "botocore/data/sqs/2012-11-05/service-2.json"
OUT = Path(__file__).resolve().parent.parent / "src/postroom/protocol/data/sqs-query-traits.json"
TRAITS = ("locationName", "flattened", "xmlNamespace")


def _ref_traits(ref: dict) -> dict:
    return {k: ref[k] for k in TRAITS if k in ref}


def extract(model: dict) -> dict:
    """Return the query-only traits of an old query-protocol model."""
    shapes: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    for name, shape in model["shapes"].items():
        entry = _ref_traits(shape)
        for part in ("member", "key", "value"):
            if part in shape and _ref_traits(shape[part]):
                entry[part] = _ref_traits(shape[part])
        members = {m: _ref_traits(r) for m, r in shape.get("members", {}).items() if _ref_traits(r)}
        if members:
            entry["members"] = members
        if entry:
            shapes[name] = entry
        if shape.get("exception"):
            err = shape.get("error", {})
            errors[name] = {
                "code": err.get("code", name),
                "httpStatusCode": err.get("httpStatusCode", 400),
                "senderFault": err.get("senderFault", True),
            }
    operations = {
        name: {"resultWrapper": op["output"]["resultWrapper"]}
        for name, op in model["operations"].items()
        if "resultWrapper" in op.get("output", {})
    }
    return {
        "source": OLD_BOTOCORE,
        "metadata": {"xmlNamespace": model["metadata"]["xmlNamespace"]},
        "operations": operations,
        "shapes": shapes,
        "errors": errors,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", OLD_BOTOCORE, "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("botocore-*.whl"))
        model = json.loads(zipfile.ZipFile(wheel).read(MODEL_PATH))
    OUT.write_text(json.dumps(extract(model), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
