# One image per service tier: --build-arg PACKAGE=wrktalk-gcc COMMAND=gcc
# or PACKAGE=wrktalk-customer-backend COMMAND=customer-backend.
FROM python:3.11-slim AS build
ARG PACKAGE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.9.30
WORKDIR /src
COPY . .
RUN uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"

FROM python:3.11-slim
ARG COMMAND
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 SERVICE_COMMAND=${COMMAND}
COPY --from=build /opt/venv /opt/venv
# credentials the development stack hands from GCC to the customer backends (a named volume
# mounted here starts with this directory's owner), and the customer backend's staging
# directory, where a verified artifact waits while its bucket refuses it (mount a volume there
# to keep it across restarts)
RUN useradd --uid 10001 --no-create-home wrktalk \
    && mkdir -p /var/lib/wrktalk/credentials /var/lib/wrktalk/staging \
    && chown 10001 /var/lib/wrktalk/credentials /var/lib/wrktalk/staging
ENV WRKTALK_STAGING_DIRECTORY=/var/lib/wrktalk/staging
USER 10001
ENTRYPOINT ["sh", "-c", "exec \"$SERVICE_COMMAND\" \"$@\"", "--"]
CMD ["serve", "--host", "0.0.0.0"]
