# The service image: the package installed (not editable) with the pinned versions of its
# runtime dependencies (constraints.txt), run as an unprivileged user.

# -- build: compile the package (and its C extension) into a virtualenv -------------------------
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY backend ./backend
COPY analytics_engine ./analytics_engine
COPY graphql_schema ./graphql_schema
# A regular install: the package goes to site-packages, the sources stay in this stage. pip treats
# the C extension (analytics_engine._batch_kernel) as optional (without it the engine falls back
# to numpy, several times slower); the image requires it, checked from outside /src so that the
# installed package is the one imported.
RUN pip install -c constraints.txt . \
    && cd / && python -c "import analytics_engine._batch_kernel"

# -- run: the virtualenv and the built dashboard, no compiler, no sources -----------------------
FROM python:3.11-slim

# PYTHONMALLOC=malloc: memory freed when live subscriptions close goes back to the system
# (Python's own allocator keeps arenas that a few long-lived objects pin; docs/performance.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONMALLOC=malloc \
    PATH=/opt/venv/bin:$PATH

COPY --from=build /opt/venv /opt/venv
# The app serves the dashboard from frontend_stub/dist beside its `backend` package (the built
# dashboard only, committed: no Node in the image).
COPY frontend_stub/dist /opt/venv/lib/python3.11/site-packages/frontend_stub/dist

RUN useradd --create-home --uid 10001 app && mkdir -p /app/var && chown app /app/var
WORKDIR /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["python", "-m", "backend", "serve", "--host", "0.0.0.0", "--port", "8000"]
