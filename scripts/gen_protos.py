"""Generate the Python gRPC code and its type stubs from protos/ into one output folder.

`make proto` runs this; the Dockerfile runs it too, so generated code is never committed or
hand-edited.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import google.api
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent


def include_paths() -> list[Path]:
    """protos/, protobuf's well-known types, and googleapis' google/api annotations."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(next(iter(google.api.__path__))).parent.parent
    return [ROOT / "protos", well_known, googleapis]


def generate(out: Path) -> None:
    sources = sorted((ROOT / "protos").rglob("*.proto"))
    if not sources:
        raise SystemExit("no .proto files under protos/")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    args = ["grpc_tools.protoc", *(f"-I{path}" for path in include_paths())]
    args += [f"--{kind}_out={out}" for kind in ("python", "grpc_python", "mypy", "mypy_grpc")]
    args += [str(source) for source in sources]
    # protoc finds the mypy plugins on PATH; they sit beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in (path for path in out.rglob("*") if path.is_dir()):
        (folder / "__init__.py").touch()
        (folder / "py.typed").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "gen")
    out: Path = parser.parse_args().out
    generate(out)
    print(f"generated {sum(1 for _ in out.rglob('*_pb2.py'))} modules into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
