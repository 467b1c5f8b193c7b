# The service image: the package with its runtime dependencies, run as an unprivileged user.
FROM python:3.11-slim

# PYTHONMALLOC=malloc: memory freed when live subscriptions close goes back to the system
# (Python's own allocator keeps arenas that a few long-lived objects pin; docs/performance.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONMALLOC=malloc \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY analytics_engine ./analytics_engine
COPY graphql_schema ./graphql_schema
# the built dashboard only (committed; no Node in the image)
COPY frontend_stub/dist ./frontend_stub/dist
# The tree in /app is what runs (the dashboard is served from /app/frontend_stub/dist), so the
# package is installed in place; its C extension (analytics_engine._batch_kernel) is compiled
# here and the compiler removed in the same layer. pip treats the extension as optional (without
# it the engine falls back to numpy, several times slower); the image requires it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install -e . \
    && python -c "import analytics_engine._batch_kernel" \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app && mkdir -p /app/var && chown app /app/var

USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["python", "-m", "backend", "serve", "--host", "0.0.0.0", "--port", "8000"]
