# voltmesh node image: `voltmesh serve` on OCPP ports 9000 (ws) and 9443 (wss, given a certificate),
# API port 8080 and cluster port 1900 (Thespian, for the other pods only); stores under /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VOLTMESH_HOST=0.0.0.0 \
    VOLTMESH_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY actors ./actors
COPY csms ./csms
COPY cluster ./cluster
COPY gateway ./gateway
COPY transport ./transport
COPY persistence ./persistence
COPY http_api ./http_api
COPY sim ./sim
COPY voltmesh ./voltmesh
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data --create-home voltmesh

USER 10001
VOLUME ["/data"]
EXPOSE 9000 9443 8080 1900

# SIGTERM drains: refuse new chargers, close sockets with 1012, flush the writers, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["voltmesh", "serve"]
