# GPO case management service. Build: docker build -t gpo-service .
# Run:   docker run -p 8000:8000 -e GPO_SECRET_KEY=... -e DATABASE_URL=postgresql://... gpo-service
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GPO_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1

WORKDIR /srv/gpo
RUN useradd --system --uid 10001 --home-dir /srv/gpo gpo

# Dependencies first, so that a code change does not reinstall them; the versions pinned
# in constraints.txt (./scripts/lock), those the suite passed with.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c constraints.txt

COPY LICENSE alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN mkdir -p var && chown -R gpo:gpo var

USER gpo
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/ready')"

# Migrations and reference data once, then the workers.
CMD ["sh", "-c", "python -m app.cli prestart && exec uvicorn app.main:create_app --factory --host \"$HOST\" --port \"$PORT\" --workers \"$WORKERS\" --http app.core.server:BoundedHttpToolsProtocol --proxy-headers --no-access-log"]
