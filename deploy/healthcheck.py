"""Container health check without curl: exit 0 when URL answers 200, else 1 (Dockerfile HEALTHCHECK).

    python /app/deploy/healthcheck.py http://127.0.0.1:8000/health [timeout seconds]

Standard library only, so it runs in every HFMRS image as it is.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def check(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    return check(argv[0], float(argv[1]) if len(argv) == 2 else 5.0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
