"""Offline release bundles for tests: exported by GCC's own service, and altered copies of one.

:func:`export_bundle` runs ``gcc release export``'s service function against the GCC under test
(its database and bucket) and signs with :data:`~testsupport.manifest_keys.TEST_SIGNING_KEY`;
:func:`rewrite_bundle` writes a copy with members replaced, dropped or added, to build the
bundles an importer must refuse.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from gcc.releases.export import ExportedBundle, export_release
from gcc.releases.manifests import ManifestSigner
from gcc.runtime import build_store
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from testsupport.manifest_keys import TEST_SIGNING_KEY
from timekeeping import Clock


async def export_bundle(
    *,
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    clock: Clock,
    version: str,
    organization: str,
    output: Path,
) -> ExportedBundle:
    """The bundle of a published release for ``organization``, written to ``output``."""
    signer = ManifestSigner(key=TEST_SIGNING_KEY, validity=gcc_settings.manifest_validity)
    async with build_store(gcc_settings) as store, gcc_sessions() as session:
        return await export_release(
            session,
            clock=clock,
            signer=signer,
            object_store=store,
            version_text=version,
            organization_name=organization,
            output=output,
        )


def bundle_members(path: Path) -> dict[str, bytes]:
    """Every file of a bundle, by member name, in order."""
    with tarfile.open(path) as archive:
        return {
            info.name: archive.extractfile(info).read()  # type: ignore[union-attr]
            for info in archive
            if info.isfile()
        }


def rewrite_bundle(
    source: Path,
    output: Path,
    *,
    replace: dict[str, bytes] | None = None,
    drop: set[str] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    """A copy of ``source`` with members replaced, dropped, or added (names as given: a name
    with ``..`` or a leading ``/`` is written as it is)."""
    replace, drop, add = replace or {}, drop or set(), add or {}
    with tarfile.open(output, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in [*bundle_members(source).items(), *add.items()]:
            if name in drop:
                continue
            data = replace.get(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return output
