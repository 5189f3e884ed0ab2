"""The running service: watcher, healer, action gate, event records and supervision."""
