"""A throw-away PostgreSQL server (and its pgbouncer) for the benchmarks that compare state
backends: started with scripts/pg in a temporary directory, stopped when the block ends.
Imported by path: a script puts bench/ first on sys.path."""

import contextlib
import os
import subprocess
import tempfile

PG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "pg")


@contextlib.contextmanager
def throwaway_server():
    """Yields (server URL, pgbouncer URL or "")."""
    server = tempfile.mkdtemp(prefix="sluice-pg-")
    url = subprocess.run([PG, "start", server], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        bouncer = subprocess.run([PG, "bouncer-url", server], check=True, capture_output=True,
                                 text=True).stdout.strip()
        yield url, bouncer
    finally:
        subprocess.run([PG, "stop", server], capture_output=True)
