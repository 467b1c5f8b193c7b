"""Logging of the server and the worker: every line (ours, uvicorn's, the libraries') goes
through the standard library to one handler on stderr, rendered by structlog as one JSON object
per line (`LOG_FORMAT=json`, the default in production) or as readable text (`text`, the
default elsewhere). Each line carries what is bound to the context: the request id of the
request or WebSocket connection being served, the job and job run id of a worker job."""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog
from structlog.typing import Processor

from backend.settings import Settings

# The server's loggers: their lines go to the root handler (uvicorn's own handlers are not set
# up), where the access log's redaction filter (backend.access_log) has already run.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(log_format: str = "json") -> logging.Formatter:
    """The formatter of every line (referenced by name in `logging_config`, so a server process
    that uvicorn starts afresh builds its own)."""
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as one string field: never the frames' local variables (secrets).
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` of the whole process (also given to uvicorn)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": "backend.observability.logs.formatter",
                "log_format": settings.resolved_log_format,
            }
        },
        "handlers": {
            "stderr": {
                "()": "backend.observability.logs.StderrHandler",
                "formatter": "structured",
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            name: {"level": settings.log_level, "handlers": [], "propagate": True}
            for name in SERVER_LOGGERS
        },
    }


class StderrHandler(logging.StreamHandler[Any]):
    """Writes to the ``sys.stderr`` of the moment (as `logging.lastResort` does), so a
    replaced stream (a test runner's capture) is never written to after it was closed."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Set up the process's logging (the CLI does, before any command runs). As with
    `logging.basicConfig`, a process whose root logger already has handlers of others (a test
    runner, an application embedding the service) is left as it is."""
    root = logging.getLogger()
    if any(not isinstance(h, StderrHandler) for h in root.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(formatter(settings.resolved_log_format))
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(settings.log_level)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
