# The service image: the package with its runtime dependencies, run as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY analytics_engine ./analytics_engine
COPY graphql_schema ./graphql_schema
COPY frontend_stub ./frontend_stub
RUN pip install . && useradd --create-home --uid 10001 app && mkdir -p /app/var && chown app /app/var

USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["python", "-m", "backend", "serve", "--host", "0.0.0.0", "--port", "8000"]
