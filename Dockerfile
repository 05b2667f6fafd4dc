# syntax=docker/dockerfile:1
# anthropic-gateway: `docker build -t anthropic-gateway .`, or `docker compose up` with docker-compose.yml.
# Secrets come from the environment at run time (SECRET_KEY, PROXY_ENCRYPTION_KEY: required, DEBUG is off).

# --- builder: every pinned requirement as a wheel, installed into a virtualenv ----------------------
# All pins ship wheels for CPython 3.11 on manylinux x86_64 and aarch64, so no compiler is needed here.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links=/wheels -r requirements.txt

# --- runtime: the virtualenv, the code, static files; runs as an unprivileged user -------------------
FROM python:3.11-slim AS runtime

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=false \
    HOST=0.0.0.0 \
    PORT=8082 \
    DATABASE_URL=sqlite:////data/db.sqlite3 \
    STATE_DIR=/data/state

# The code and the virtualenv stay root-owned (read-only for the service); only /data is writable,
# for the SQLite default when no DATABASE_URL is given.
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --create-home --home-dir /home/gateway \
      --shell /usr/sbin/nologin gateway \
 && mkdir /data \
 && chown gateway:gateway /data

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY . .

# The admin's CSS and JS, compressed for WhiteNoise, once at build time (serve runs --no-collectstatic).
RUN python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q /app

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8082

# /health answers 200 when the database is reachable; urllib fails (exit 1) on anything else.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8082'), timeout=4)"]

CMD ["python", "manage.py", "serve", "--no-collectstatic"]
