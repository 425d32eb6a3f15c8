# Prometheus for the development stack, from Debian's package (no other registry needed),
# with the stack's scrape configuration and alert rules.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/*
COPY infra/prometheus/prometheus.yml infra/prometheus/alerts.yml /etc/wrktalk-prometheus/
USER nobody
EXPOSE 9090
ENTRYPOINT ["prometheus", "--config.file=/etc/wrktalk-prometheus/prometheus.yml", \
    "--storage.tsdb.path=/tmp/prometheus", "--web.listen-address=:9090"]
