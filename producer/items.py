"""The records the spider yields: a quote, and an author (once per author)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class QuoteItem:
    """One quote as shown on a list page."""

    text: str = ""
    author: str = ""  # the byline under the quote
    tags: list[str] = dataclasses.field(default_factory=list)
    author_url: str = ""  # absolute, with the trailing slash (same as AuthorItem.url)
    page_url: str = ""  # the list page it was found on


@dataclasses.dataclass
class AuthorItem:
    """One author, from their own page."""

    name: str = ""  # the page title; it can differ from the byline
    born_date: str = ""
    born_location: str = ""
    description: str = ""
    url: str = ""
    goodreads_url: str = ""  # the "(Goodreads page)" link, where the site shows one
