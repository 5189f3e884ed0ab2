"""Custom health checks: definitions today; the runners (http, tcp, exec) are not built yet."""
