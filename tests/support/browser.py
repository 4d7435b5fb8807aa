"""How long a browser test waits for what a page should show.

Generous: the suite's two passes run side by side and can keep both cores busy, when a page
that takes a second alone can take ten. A test waits for what it expects and never asserts how
fast it came (speed is the benchmarks' business)."""

BROWSER_TIMEOUT_MS = 25_000
