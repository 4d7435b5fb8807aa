"""The ASGI entry point for uvicorn: the app built from environment settings."""

import gc
import sys

from portti.app import create_app
from portti.config import SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as exc:
    # One readable message per wrong setting, not a validation dump (uvicorn prints the rest).
    sys.exit("Portti cannot start: wrong settings\n" + str(exc))

app = create_app(settings)

# Everything built so far lives as long as the process. Moving it out of the collector's
# reach keeps full collections short: they were the p99 of the Users and roles page
# (110–200 ms pauses about every 100 requests; docs/benchmarks.md).
gc.collect()
gc.freeze()
