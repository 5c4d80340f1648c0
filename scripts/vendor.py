"""Vendor the front-end libraries the service serves itself, from the npm registry.

Police networks have no internet: every page and asset comes from the service. This script
downloads each package's tarball from the npm registry, checks it against the registry's
integrity digest (sha512), and copies the files the service uses, with the licence, into
app/console/static/vendor/<name>/. It writes VENDORED.md, the list of what is there: name,
version, licence, source and digest. Run it to change a version; commit what it writes.

    python3 scripts/vendor.py            # fetch and write every package
    python3 scripts/vendor.py --check    # offline: every listed file is present
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "app" / "console" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"
# The DSFR's icon families the console uses (each family: its CSS and its SVG files).
DSFR_ICON_FAMILIES = ("system", "arrows", "user", "document", "map", "business", "communication")


@dataclass(frozen=True)
class Package:
    name: str  # on npm
    version: str
    folder: str  # under vendor/
    licence: str  # the licence's name, for VENDORED.md
    # (pattern inside the tarball's package/, destination folder under vendor/<folder>/):
    # the file keeps its path below the pattern's fixed prefix.
    files: tuple[tuple[str, str], ...]


PACKAGES = (
    Package(
        "@gouvfr/dsfr",
        "1.15.3",
        "dsfr",
        "Licence Ouverte 2.0 (Etalab), with the DSFR's terms of use",
        (
            ("LICENSE.md", ""),
            ("dist/dsfr.min.css", ""),
            ("dist/dsfr.module.min.js", ""),
            ("dist/dsfr.nomodule.min.js", ""),
            ("dist/fonts/*.woff2", "fonts"),
            ("dist/favicon/favicon.svg", "favicon"),
            ("dist/favicon/favicon.ico", "favicon"),
            *(
                (
                    f"dist/utility/icons/icons-{family}/icons-{family}.min.css",
                    f"utility/icons/icons-{family}",  # its url(../../../icons/...) holds
                )
                for family in DSFR_ICON_FAMILIES
            ),
            *((f"dist/icons/{family}/*.svg", f"icons/{family}") for family in DSFR_ICON_FAMILIES),
        ),
    ),
    Package("htmx.org", "2.0.8", "htmx", "0BSD", (("LICENSE", ""), ("dist/htmx.min.js", ""))),
    Package(
        "leaflet",
        "1.9.4",
        "leaflet",
        "BSD-2-Clause",
        (
            ("LICENSE", ""),
            ("dist/leaflet.js", ""),
            ("dist/leaflet.css", ""),
            ("dist/images/*.png", "images"),
        ),
    ),
    Package(
        "swagger-ui-dist",
        "5.32.0",
        "swagger-ui",
        "Apache-2.0",
        (
            ("LICENSE", ""),
            ("NOTICE", ""),
            ("swagger-ui-bundle.js", ""),
            ("swagger-ui.css", ""),
            ("favicon-32x32.png", ""),
        ),
    ),
)


def _metadata(package: Package) -> dict[str, str]:
    url = f"{REGISTRY}/{package.name.replace('/', '%2F')}/{package.version}"
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - fixed https host
        dist = json.load(response)["dist"]
    return {"tarball": dist["tarball"], "integrity": dist["integrity"]}


def _download(url: str, integrity: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - the registry's
        data: bytes = response.read()
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise SystemExit(f"{url}: {algorithm} digest {digest} is not the registry's {expected}")
    return data


def _destination(package: Package, member: str, pattern: str, folder: str) -> Path:
    fixed = pattern.split("*", 1)[0].rsplit("/", 1)[0] if "*" in pattern else ""
    name = member[len(fixed) :].lstrip("/") if fixed else member.rsplit("/", 1)[-1]
    return VENDOR / package.folder / folder / name


def vendor(package: Package) -> tuple[dict[str, str], list[Path]]:
    meta = _metadata(package)
    data = io.BytesIO(_download(meta["tarball"], meta["integrity"]))
    target = VENDOR / package.folder
    shutil.rmtree(target, ignore_errors=True)
    written: list[Path] = []
    with tarfile.open(fileobj=data) as archive:
        members = {m.name.removeprefix("package/"): m for m in archive.getmembers() if m.isfile()}
        for pattern, folder in package.files:
            matched = sorted(name for name in members if fnmatch.fnmatchcase(name, pattern))
            if not matched:
                raise SystemExit(f"{package.name}@{package.version}: nothing matches {pattern}")
            for name in matched:
                path = _destination(package, name, pattern, folder)
                path.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(members[name])
                assert source is not None
                path.write_bytes(source.read())
                written.append(path)
    (target / "VERSION").write_text(f"{package.name}@{package.version}\n")
    return meta, written


def _size(paths: list[Path]) -> str:
    return f"{sum(p.stat().st_size for p in paths) / 1024:,.0f} KiB".replace(",", " ")


def write_all() -> None:
    rows = []
    for package in PACKAGES:
        meta, written = vendor(package)
        print(f"{package.name}@{package.version}: {len(written)} files, {_size(written)}")
        rows.append(
            f"| `{package.name}` | {package.version} | {package.licence} | `vendor/"
            f"{package.folder}/` ({len(written)} files, {_size(written)}) | "
            f"{meta['tarball']} | `{meta['integrity'][:23]}…` |"
        )
    (VENDOR / "VENDORED.md").write_text(
        "# Vendored front-end libraries\n\n"
        "Written by `python3 scripts/vendor.py` from the npm registry (each tarball checked "
        "against the registry's sha512 integrity); served by the service itself under "
        "`/static/vendor/`, so that no page needs another host. Each folder holds the "
        "package's licence and a `VERSION` file.\n\n"
        "| package | version | licence | files | source | integrity |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def check() -> int:
    missing = []
    for package in PACKAGES:
        version = VENDOR / package.folder / "VERSION"
        if not version.exists() or version.read_text().strip() != (
            f"{package.name}@{package.version}"
        ):
            missing.append(f"{package.name}@{package.version} (run python3 scripts/vendor.py)")
    for line in missing:
        print("missing:", line)
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="offline: check what is there")
    if parser.parse_args().check:
        return check()
    write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
