"""The ASGI entry point for uvicorn: the app built from environment settings."""

import gc

from portti.app import create_app

app = create_app()

# Everything built so far lives as long as the process. Moving it out of the collector's
# reach keeps full collections short: they were the p99 of the Users and roles page
# (110–200 ms pauses about every 100 requests; docs/benchmarks.md).
gc.collect()
gc.freeze()
