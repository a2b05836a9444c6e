"""No internet at run time: Scrapy's cookie handling on tldextract's bundled suffix list.

Scrapy's cookie middleware asks ``tldextract`` whether a cookie's domain is
a public suffix. By default ``tldextract`` then downloads the Public Suffix
List from the internet on first use (and caches it under the home folder),
logging a traceback when it can't: a crawl of a site that sets a cookie
would reach out to publicsuffix.org. ``use_bundled_suffix_list`` gives that
middleware an extractor that never fetches and never writes a cache: the
list snapshot that ships inside ``tldextract``.
"""

from __future__ import annotations

import logging

from tldextract import TLDExtract
from tldextract.tldextract import PUBLIC_SUFFIX_LIST_URLS

log = logging.getLogger(__name__)


def bundled_extractor() -> TLDExtract:
    """A ``TLDExtract`` on the bundled snapshot only: no download, no disk cache."""
    return TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def use_bundled_suffix_list() -> bool:
    """Point Scrapy's cookie middleware at ``bundled_extractor`` (idempotent).

    Only an extractor with tldextract's default, internet URLs is replaced: a
    list chosen with ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` is kept.
    Returns whether it could: the middleware's extractor is a module attribute
    of Scrapy (``_split_domain``); if a Scrapy release renames it, a warning
    says so instead of failing the crawl.
    """
    from scrapy.downloadermiddlewares import cookies

    current = getattr(cookies, "_split_domain", None)
    if not isinstance(current, TLDExtract):
        log.warning(
            "Scrapy's cookie middleware has no tldextract extractor to replace: "
            "it may download the Public Suffix List"
        )
        return False
    if tuple(current.suffix_list_urls) == tuple(PUBLIC_SUFFIX_LIST_URLS):
        cookies._split_domain = bundled_extractor()
    return True
