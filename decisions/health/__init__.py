"""Is the portal alive and keeping its promises: the sweep's heartbeat, the health banners and
the leads' stall email, readiness checks (/readyz) and Prometheus metrics (/metrics)."""
