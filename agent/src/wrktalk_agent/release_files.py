"""A task's release files, downloaded into its private workspace one after another."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contracts import FileRef, ReleaseBundle
from wrktalk_agent.control import StopControl
from wrktalk_agent.downloads import Downloader, PrivateDirectory
from wrktalk_agent.errors import TaskAbandoned, TaskInterrupted
from wrktalk_agent.executors import LocalRelease

Note = Callable[[str], None]


class ReleaseDownloads:
    """Downloads a release's files into the workspace, checking for a stop between files."""

    def __init__(
        self,
        downloader: Downloader,
        workspace: PrivateDirectory,
        control: StopControl,
        note: Note,
    ) -> None:
        self._downloader = downloader
        self._workspace = workspace
        self._control = control
        self._note = note

    async def release(self, bundle: ReleaseBundle, role: str) -> LocalRelease:
        """Download ``bundle``'s files, each verified against its reference (``role`` keeps
        a release's and the previous release's files apart)."""
        chart = await self._file(bundle.chart, role)
        values = await self._file(bundle.values, role) if bundle.values else None
        env = await self._file(bundle.env, role) if bundle.env else None
        return LocalRelease(
            version=bundle.version,
            chart=chart,
            image_tags=dict(bundle.image_tags),
            values=values,
            env=env,
        )

    async def _file(self, reference: FileRef, role: str) -> Path:
        if self._control.abandoned.is_set():
            raise TaskAbandoned("the backend gave the task up")
        if self._control.stopping.is_set():
            raise TaskInterrupted(f"downloading {reference.bucket_path}", started=False)
        destination = self._workspace.file_path(role, reference.bucket_path)
        path = await self._downloader.download(reference, destination)
        self._note(f"downloaded {reference.bucket_path}, SHA256 verified")
        return path
