"""ServiceFlow benchmarks: ``python -m bench.run`` (or ``make bench``) measures the app through its
real HTTP server on SQLite and PostgreSQL and writes ``bench/README.md``."""
