"""Prometheus metrics: plain counters kept by the services, exported at scrape time."""
