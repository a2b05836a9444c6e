"""``python -m producer.sample_site DIR [PAGES [HOST:PORT]]``: serve a generated site until Ctrl-C.

HOST:PORT defaults to 127.0.0.1 and a free port; the compose file's ``site``
service listens on 0.0.0.0:8000.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from . import VARIANTS, SiteServer, generate_site


def main(argv: list[str]) -> None:
    folder = argv[0] if argv else "quotesite"
    expected = generate_site(folder, pages=int(argv[1]) if len(argv) > 1 else 3)
    host, _, port = (argv[2] if len(argv) > 2 else "127.0.0.1:0").rpartition(":")
    with SiteServer(folder, host=host, port=int(port)) as site:
        print(f"{len(expected.quotes)} quotes, {len(expected.authors)} authors at {site.url}")
        for name, path in VARIANTS.items():
            print(f"  {name:<11} {site.url.rstrip('/')}{path}")
        print("Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover - manual use
    main(sys.argv[1:])
