# The deployment agent: one image for the three delivery modes.
#   kubernetes: helm (talks to the cluster through the pod's ServiceAccount)
#   docker:     the docker CLI with the Compose v2 plugin (mount the host's Docker socket)
#   gitops:     helm (template only) and git
# Build from the repository root:
#   docker build -f infra/docker/agent.Dockerfile -t wrktalk-agent .
# The binaries come from their projects' official images, pinned; bump them here.
ARG HELM_IMAGE=alpine/helm:3.18.4
ARG DOCKER_CLI_IMAGE=docker:28.2.2-cli
ARG COMPOSE_IMAGE=docker/compose-bin:v2.37.3

FROM ${HELM_IMAGE} AS helm
FROM ${DOCKER_CLI_IMAGE} AS docker-cli
FROM ${COMPOSE_IMAGE} AS compose

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.9.30
WORKDIR /src
COPY . .
# Only the agent and the libraries it imports (contracts, logconfig, timekeeping,
# archivesafety): no web framework, no database driver.
RUN uv sync --frozen --no-dev --no-editable --package wrktalk-agent

FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=helm /usr/bin/helm /usr/local/bin/helm
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=compose /docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/home/agent \
    WRKTALK_AGENT_TEMP_DIR=/tmp \
    WRKTALK_AGENT_COMPOSE_WORKING_DIR=/var/lib/wrktalk-agent/compose
# Runs as an unprivileged user. For docker delivery, give it the group of the mounted socket:
#   docker run --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /srv/wrktalk:/var/lib/wrktalk-agent ...
RUN useradd --uid 10001 --create-home --home-dir /home/agent agent \
    && mkdir -p /var/lib/wrktalk-agent \
    && chown agent /var/lib/wrktalk-agent
USER 10001
WORKDIR /home/agent
# SIGTERM lets the running step finish (WRKTALK_AGENT_SHUTDOWN_GRACE_PERIOD, 25 s by default),
# reports the task honestly and exits; keep the orchestrator's grace period above it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["wrktalk-agent"]
CMD ["run"]
