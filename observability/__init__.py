"""What an operator watches: Prometheus metrics and the log's format. Any layer but core may
record into it; it imports nothing of the platform's."""
