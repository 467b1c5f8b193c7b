"""What an operator sees of the service: structured logs with a request id (`logs`,
`request_id`), Prometheus metrics (`metrics`, `queues`, `jobs`) and optional tracing (`tracing`)."""
