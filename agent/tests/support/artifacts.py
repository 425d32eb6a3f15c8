"""Release artifacts the tests deploy: a real Helm chart and Compose bundles."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

SERVICES = ("backend", "media", "controlTower", "agent")

CHART_YAML = """apiVersion: v2
name: wrktalk
description: WrkTalk, as the agent tests deploy it
type: application
version: {version}
appVersion: "{version}"
"""

VALUES_YAML = """secretKey: change-me
replicaCount: 1
""" + "".join(
    f"{service}:\n  image:\n    repository: ghcr.io/wrktalk/{service.lower()}\n    tag: latest\n"
    for service in SERVICES
)

DEPLOYMENT_TEMPLATE = """{{{{- range $name := list "backend" "media" "controlTower" "agent" }}}}
{{{{- $service := index $.Values $name }}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ $.Release.Name }}}}-{{{{ $name | lower }}}}
  namespace: {{{{ $.Release.Namespace }}}}
  labels:
    app.kubernetes.io/version: {{{{ $.Chart.AppVersion | quote }}}}
spec:
  replicas: {{{{ $.Values.replicaCount }}}}
  selector:
    matchLabels:
      app: {{{{ $name | lower }}}}
  template:
    metadata:
      labels:
        app: {{{{ $name | lower }}}}
    spec:
      containers:
        - name: {{{{ $name | lower }}}}
          image: "{{{{ $service.image.repository }}}}:{{{{ $service.image.tag }}}}"
{{{{- end }}}}
"""

SECRET_TEMPLATE = """apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-essential
  namespace: {{ .Release.Namespace }}
stringData:
  SECRET_KEY: {{ .Values.secretKey | quote }}
"""


def write_chart(directory: Path, version: str) -> Path:
    """The chart's source tree in ``directory/wrktalk``."""
    chart = directory / "wrktalk"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML.format(version=version))
    (chart / "values.yaml").write_text(VALUES_YAML)
    (chart / "templates" / "deployments.yaml").write_text(DEPLOYMENT_TEMPLATE.format())
    (chart / "templates" / "secret.yaml").write_text(SECRET_TEMPLATE)
    return chart


def package_chart(directory: Path, version: str) -> Path:
    """``helm package`` (the real helm) of the chart at ``version``; the .tgz path."""
    source = write_chart(directory / f"source-{version}", version)
    subprocess.run(
        ["helm", "package", str(source), "--destination", str(directory)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return directory / f"wrktalk-{version}.tgz"


COMPOSE_FILE = """version: "2.4"
services:
  backend:
    image: {registry}/wrktalk/app:${{BACKEND_IMAGE_TAG}}
    network_mode: none
    env_file: .env
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "/bin/busybox", "true"]
      interval: 250ms
      timeout: 2s
      retries: 3
"""


def compose_bundle(registry: str, *, defaults: str = "LOG_LEVEL=info\n") -> bytes:
    """A Compose bundle (gzip tar) with its files one directory down, as CI builds it."""
    files = {
        "wrktalk/docker-compose.yml": COMPOSE_FILE.format(registry=registry),
        "wrktalk/.env": defaults,
        "wrktalk/README.md": "WrkTalk on Docker Compose\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        directory = tarfile.TarInfo("wrktalk")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        archive.addfile(directory)
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            member.mode = 0o644
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()
