"""hallq server: queues, priority lanes and live calls for government service halls."""

__version__ = "0.1.0"
