"""Artifacts made the way CI makes them: `helm package` and `tar -czf`."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import httpx
import yaml

SAMPLES = Path(__file__).resolve().parents[3] / "infra" / "samples"


def package_sample_chart(version: str, work: Path) -> Path:
    chart = work / "wrktalk"
    subprocess.run(["cp", "-r", str(SAMPLES / "chart" / "wrktalk"), str(chart)], check=True)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    metadata["version"] = version
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    subprocess.run(
        ["helm", "package", str(chart), "-d", str(work)], check=True, capture_output=True
    )
    return work / f"wrktalk-{version}.tgz"


async def test_chart_packaged_by_helm_is_accepted_with_its_sha256(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], tmp_path: Path
) -> None:
    package = package_sample_chart("1.1.0", tmp_path)
    with package.open("rb") as file:
        response = await gcc_client.post(
            "/api/internal/artifacts",
            headers=ci_headers,
            data={"type": "helm", "version": "1.1.0"},
            files={"file": (package.name, file, "application/gzip")},
        )
    assert response.status_code == 200, response.text
    assert response.json()["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()


async def test_compose_bundle_packed_by_tar_is_accepted(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], tmp_path: Path
) -> None:
    bundle = tmp_path / "wrktalk-1.1.0-compose.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        archive.add(SAMPLES / "compose" / "wrktalk", arcname="wrktalk")
    response = await gcc_client.post(
        "/api/internal/artifacts",
        headers=ci_headers,
        data={"type": "compose", "version": "1.1.0"},
        files={"file": (bundle.name, bundle.read_bytes(), "application/gzip")},
    )
    assert response.status_code == 200, response.text
