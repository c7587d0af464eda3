"""Writes docs/openapi.json, the admin API's OpenAPI document, from the routes themselves.

    python -m local.make_openapi [--check]

The deployed API serves the same document at GET /openapi.json (with the API key);
``--check`` exits 1 when the committed copy is out of date (a test runs the same check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
DOCUMENT = ROOT / "docs" / "openapi.json"


def render() -> str:
    if str(LAYER) not in sys.path:  # what the Lambda layer provides in AWS
        sys.path.insert(0, str(LAYER))
    from masking.handlers.admin_api import openapi_json

    return openapi_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.make_openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/openapi.json is current")
    args = parser.parse_args(argv)
    document = render()
    if args.check:
        current = DOCUMENT.exists() and DOCUMENT.read_text() == document
        print("docs/openapi.json is current" if current else "docs/openapi.json is out of date: run python -m local.make_openapi")
        return 0 if current else 1
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
