"""Vendor the front-end files the consoles serve and test with, from their npm packages.

Each file comes from a pinned package version, fetched with ``npm pack`` (the registry's own
client) and checked against the SHA256 written here before it is copied into the tree. A new
version is taken by changing the pin and the digest together; the licences are listed in
``libs/consolekit/src/consolekit/static/vendor/LICENSES.md``.

``uv run --frozen python -m tools.vendor_frontend`` writes the files; ``--check`` only compares
the committed copies with the digests (no network), and exits non-zero on a difference.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_VENDOR = ROOT / "libs" / "consolekit" / "src" / "consolekit" / "static" / "vendor"
TESTING_VENDOR = ROOT / "libs" / "testing" / "src" / "wrktalk_testing" / "vendor"
SWAGGER_VENDOR = ROOT / "libs" / "servicekit" / "src" / "servicekit" / "static" / "swagger"


@dataclass(frozen=True)
class VendoredFile:
    """One file taken from an npm package."""

    package: str
    version: str
    member: str
    """The file's path inside the package tarball."""
    destination: Path
    sha256: str
    licence: str


FILES = [
    VendoredFile(
        package="simpledotcss",
        version="2.3.7",
        member="package/simple.min.css",
        destination=CONSOLE_VENDOR / "simple.min.css",
        sha256="fb0624582679e4af905268e0fb461128583a49b5d9e5d8675d1c9e2fc34c7d3d",
        licence="MIT",
    ),
    VendoredFile(
        package="htmx.org",
        version="2.0.11",
        member="package/dist/htmx.min.js",
        destination=CONSOLE_VENDOR / "htmx.min.js",
        sha256="d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
        licence="0BSD",
    ),
    VendoredFile(
        package="htmx.org",
        version="2.0.11",
        member="package/LICENSE",
        destination=CONSOLE_VENDOR / "htmx.LICENSE",
        sha256="d3d2456f76414f2456104660ebd65aff1c04cd7966b942bdabd63f3cdb316a38",
        licence="0BSD",
    ),
    VendoredFile(
        package="htmx-ext-sse",
        version="2.2.4",
        member="package/dist/sse.min.js",
        destination=CONSOLE_VENDOR / "htmx-ext-sse.min.js",
        sha256="98a46496de0c3605fbffdce9167ba427bdd9553184f83f149c261891a92c0136",
        licence="0BSD",
    ),
    VendoredFile(
        package="htmx-ext-sse",
        version="2.2.4",
        member="package/LICENSE",
        destination=CONSOLE_VENDOR / "htmx-ext-sse.LICENSE",
        sha256="a17d224ce9afdc21ec9491b76a2f5d036d19aa641ac4f85ca29c21f9f7e54fdf",
        licence="0BSD",
    ),
    VendoredFile(
        package="axe-core",
        version="4.11.0",
        member="package/axe.min.js",
        destination=TESTING_VENDOR / "axe.min.js",
        sha256="e9e5863c33a874f09bc01acd9234b7e3c871479f5eef8802fa582544465e6d01",
        licence="MPL-2.0",
    ),
    *(
        VendoredFile(
            package="swagger-ui-dist",
            version="5.30.2",
            member=f"package/{member}",
            destination=SWAGGER_VENDOR / name,
            sha256=digest,
            licence="Apache-2.0",
        )
        for member, name, digest in [
            (
                "swagger-ui-bundle.js",
                "swagger-ui-bundle.js",
                "002503ad9e92c33a9c9e2f7d4910a6fba4dd9dd8c57cfdb53b090629df0f5787",
            ),
            (
                "swagger-ui.css",
                "swagger-ui.css",
                "bc5e8d5c013477cf1f35e2fb8ba1dff66be0f72f24e669a509635657145e1acb",
            ),
            (
                "favicon-32x32.png",
                "favicon-32x32.png",
                "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837",
            ),
            (
                "LICENSE",
                "swagger-ui.LICENSE",
                "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
            ),
            (
                "NOTICE",
                "swagger-ui.NOTICE",
                "0d20d1adef18aee3f40dd258172155521ce702ac445cb5f7b7d60ed32dad2fb2",
            ),
        ]
    ),
]


def sha256_of(data: bytes) -> str:
    """Hex SHA256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetch(file: VendoredFile, workdir: Path) -> bytes:
    """The file's bytes from its package tarball, fetched with ``npm pack``."""
    spec = f"{file.package}@{file.version}"
    subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = workdir / f"{file.package.replace('@', '').replace('/', '-')}-{file.version}.tgz"
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(file.member)
        if member is None:
            raise SystemExit(f"{spec} has no file {file.member}")
        return member.read()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) every vendored file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed copies only")
    arguments = parser.parse_args(argv)
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        for file in FILES:
            name = f"{file.package}@{file.version} {file.member}"
            if arguments.check:
                present = file.destination.read_bytes() if file.destination.exists() else b""
                if sha256_of(present) != file.sha256:
                    print(f"{file.destination.relative_to(ROOT)} differs from {name}")
                    failures += 1
                continue
            data = fetch(file, Path(workdir))
            digest = sha256_of(data)
            if digest != file.sha256:
                print(f"{name}: SHA256 {digest}, expected {file.sha256}; not written")
                failures += 1
                continue
            file.destination.parent.mkdir(parents=True, exist_ok=True)
            file.destination.write_bytes(data)
            print(f"{file.destination.relative_to(ROOT)} ← {name} ({file.licence})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
