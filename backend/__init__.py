"""Backend: domain packages, storage, pub/sub, worker, webhooks, settings and CLI."""
