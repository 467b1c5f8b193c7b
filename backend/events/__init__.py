"""Live events: what changed, published after commit on the broker, with monotonic versions."""
