"""The sample site's pages, in the markup of each variant of the real site.

Every function returns one page's HTML (or, for the API, its JSON document)
from ``SiteData``. Text is escaped the way the site's templates do it (``'``
as ``&#39;``, ``"`` as ``&#34;``); the JavaScript variants embed the records
as the site does, a JSON array after ``var data =`` with non-ASCII letters
as ``\\uXXXX`` escapes.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from typing import Any

from .data import Author, SiteData, SiteQuote


def esc(text: str) -> str:
    """Escape like the site's Jinja templates: ``'`` is ``&#39;``, ``"`` is ``&#34;``."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def _head(logged_in: bool) -> str:
    link = '<a href="/logout">Logout</a>' if logged_in else '<a href="/login">Login</a>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
\t<meta charset="UTF-8">
\t<title>Quotes to Scrape</title>
    <link rel="stylesheet" href="/static/bootstrap.min.css">
</head>
<body>
    <div class="container">
        <div class="row header-box">
            <div class="col-md-8">
                <h1>
                    <a href="/" style="text-decoration: none">Quotes to Scrape</a>
                </h1>
            </div>
            <div class="col-md-4">
                <p>
                    {link}
                </p>
            </div>
        </div>
"""


_FOOT = """
    </div>
    <footer class="footer">
        <div class="container">
            <p class="text-muted">Quotes by: <a href="https://example.invalid/">nobody</a></p>
        </div>
    </footer>
</body>
</html>"""


def _page(body: str, logged_in: bool = False) -> str:
    return f"{_head(logged_in)}{body}{_FOOT}"


def _pager(base: str, page: int, has_next: bool, *, links: bool = True) -> str:
    """``ul.pager`` with Previous / Next to ``{base}page/N/`` (no ``href`` when not ``links``)."""
    items = []
    if page > 1:
        href = f' href="{base}page/{page - 1}/"' if links else ""
        items.append(
            f'\n            <li class="previous">\n                <a{href}>'
            '<span aria-hidden="true">&larr;</span> Previous</a>\n            </li>\n'
        )
    if has_next:
        href = f' href="{base}page/{page + 1}/"' if links else ""
        items.append(
            f'\n            <li class="next">\n                <a{href}>'
            'Next <span aria-hidden="true">&rarr;</span></a>\n            </li>\n'
        )
    return f'\n    <nav>\n        <ul class="pager">\n{"".join(items)}\n        </ul>\n    </nav>'


def _top_ten(site: SiteData) -> list[tuple[str, int]]:
    return collections.Counter(t for q in site.quotes for t in q.tags).most_common(10)


# -- the main site (and its logged-in face) ----------------------------------------------


def _quote_html(q: SiteQuote, logged_in: bool) -> str:
    tag_links = "".join(
        f'\n            <a class="tag" href="/tag/{t}/page/1/">{t}</a>\n' for t in q.tags
    )
    goodreads = (
        f' <a href="{esc(q.author.goodreads_url)}">(Goodreads page)</a>' if logged_in else ""
    )
    return f"""
    <div class="quote" itemscope itemtype="http://schema.org/CreativeWork">
        <span class="text" itemprop="text">{esc(q.text)}</span>
        <span>by <small class="author" itemprop="author">{esc(q.author.byline)}</small>
        <a href="/author/{q.author.slug}">(about)</a>{goodreads}
        </span>
        <div class="tags">
            Tags:
            <meta class="keywords" itemprop="keywords" content="{",".join(q.tags)}" /    > 
            {tag_links}
        </div>
    </div>
"""  # the stray space after the meta tag is in the real markup too


def main_page(site: SiteData, page: int, logged_in: bool = False) -> str:
    """``/`` and ``/page/N/``: ten ``div.quote`` blocks, "No quotes found!" past the end."""
    quotes, has_next = site.page(page)
    body = "".join(_quote_html(q, logged_in) for q in quotes) or "\nNo quotes found!\n"
    return _page(
        f'\n<div class="row">\n    <div class="col-md-8">\n{body}{_pager("/", page, has_next)}'
        f'\n    </div>\n    <div class="col-md-4 tags-box">\n        <h2>Top Ten tags</h2>\n'
        f"    </div>\n</div>\n",
        logged_in,
    )


def author_page(author: Author, logged_in: bool = False) -> str:
    """``/author/<slug>/``."""
    return _page(
        f"""
<div class="author-details">
    <h3 class="author-title">{esc(author.name)}</h3>
    <p><strong>Born:</strong> <span class="author-born-date">{esc(author.born_date)}</span> <span class="author-born-location">{esc(author.born_location)}</span></p>
    <p><strong>Description:</strong></p>
    <div class="author-description">
        {esc(author.description)}
    </div>
</div>
""",  # noqa: E501
        logged_in,
    )


# -- JavaScript: the records in the page as data, rendered by a script -------------------


def _record(q: SiteQuote) -> dict[str, Any]:
    """A quote as the site's data and API carry it."""
    a = q.author
    return {
        "tags": list(q.tags),
        "author": {"name": a.byline, "goodreads_link": a.goodreads_link, "slug": a.slug},
        "text": q.text,
    }


_WRITE = """    for (var i in data) {
        var d = data[i];
        var tags = $.map(d['tags'], function(t) {
            return "<a class='tag'>" + t + "</a>";
        }).join(" ");
        document.write("<div class='quote'><span class='text'>" + d['text'] + "</span><span>by <small class='author'>" + d['author']['name'] + "</small></span><div class='tags'>Tags: " + tags + "</div></div>");
    }
"""  # noqa: E501


def js_page(site: SiteData, variant: str, page: int) -> str:
    """``/js/``, ``/js-delayed/`` or ``/js-onclick/`` (and ``page/N/``): no quote markup.

    ``js-delayed`` writes the quotes after a timer; ``js-onclick`` has Next and
    Previous links without ``href``, their targets only inside the script.
    """
    quotes, has_next = site.page(page)
    data = json.dumps([_record(q) for q in quotes], indent=4)
    base = f"/{variant}/"
    if variant == "js-delayed":
        script = (
            "    var delayInMilliseconds = 10000\n    setTimeout(function() {\n"
            f"        var data = {data};\n"
            + _WRITE.replace("document.write(", 'document.getElementById("quotesPlaceholder")'
                             ".innerHTML += (")
            + "    }, delayInMilliseconds);\n"
        )  # fmt: skip
        after = '<div id="quotesPlaceholder"></div>'
    else:
        script = f"    var data = {data};\n{_WRITE}"
        after = ""
    if variant == "js-onclick":
        script += (
            "    $(document).ready(function(){\n"
            '        $(".pager > .next > a").on("click", function() {\n'
            f'            window.location.href = "{base}page/{page + 1}/"\n'
            "        });\n"
            '        $(".pager > .previous > a").on("click", function() {\n'
            f'            window.location.href = "{base}page/{page - 1}/"\n'
            "        });\n"
            "    });\n"
        )
    pager = _pager(base, page, has_next, links=variant != "js-onclick")
    return _page(
        f'<script src="/static/jquery.js"></script>\n<script>\n{script}</script>\n{after}{pager}\n'
    )


# -- infinite scroll: an empty page and a JSON API ---------------------------------------


def scroll_page() -> str:
    """``/scroll``: no quotes; a script loads ``/api/quotes?page=N`` while the reader scrolls."""
    return _page(
        """<div class="row">
    <div class="col-md-8">
        <div class="quotes"></div>
    </div>
</div>
<div id="loading" style="background-color: #eeeecc"><h5>Loading...</h5></div>
<script src="/static/jquery.js"></script>
<script>
    $(function(){
        var page = 1, hasNextPage = true;
        function updatePage(page) {
            $.get('/api/quotes', {page: page}).done(function(data) {
                appendQuotes(data.quotes);
                hasNextPage = data.has_next;
            });
        }
        updatePage(page);
    });
</script>
"""
    )


def api_quotes(site: SiteData, page: int) -> dict[str, Any]:
    """``/api/quotes?page=N``: ``has_next``, ``page``, ``quotes``, ``tag``, ``top_ten_tags``."""
    quotes, has_next = site.page(page)
    return {
        "has_next": has_next,
        "page": page,
        "quotes": [_record(q) for q in quotes],
        "tag": None,
        "top_ten_tags": [list(pair) for pair in _top_ten(site)],
    }


# -- a table layout, without classes -----------------------------------------------------


def table_page(site: SiteData, page: int) -> str:
    """``/tableful/`` (``page/N/``): a cell ``TEXT Author: NAME``, then a row ``Tags: ...``."""
    quotes, has_next = site.page(page)
    top = "".join(
        f'\n            <a href="/tableful/tag/{t}/page/1/">{t}</a> ({n}) <br />'
        for t, n in _top_ten(site)
    )
    rows = []
    for q in quotes:
        tags = "".join(
            f'\n                <a href="/tableful/tag/{t}/page/1/">{t}</a>' for t in q.tags
        )
        rows.append(
            '\n        <tr style="border-bottom: 0px; ">\n'
            '            <td style="padding-top: 2em;">'
            f"{esc(q.text)} Author: {esc(q.author.byline)}</td>\n"
            "        </tr>\n        <tr>\n"
            f'            <td style="padding-bottom: 2em;">Tags:{tags}\n'
            "        </td>\n        </tr>"
        )
    body = "".join(rows) or "\n    No quotes found!"
    previous = (
        f'<td>\n                <a href="/tableful/page/{page - 1}/">\n'
        '                    <span aria-hidden="true">&larr;</span> Previous\n'
        "                </a>\n            </td>"
        if page > 1
        else "<td></td>"
    )
    following = (
        f'\n            <td>\n                <a href="/tableful/page/{page + 1}/">Next \n'
        '                    <span aria-hidden="true">&rarr;</span>\n'
        "                </a>\n            </td>"
        if has_next
        else ""
    )
    return _page(
        "<table>\n    <tr>\n        <td>\n        </td>\n"
        '        <td rowspan="5" style="padding-left: 50px;">\n'
        '            <div style="width: 200px; border:none;" >\n            </div>\n'
        f"            <h3>Top Ten tags</h3>{top}\n        </td>\n    </tr>{body}\n"
        f"    <tr>\n            {previous}{following}\n    </tr>\n</table>\n"
    )


# -- a login form ------------------------------------------------------------------------


def login_page(csrf_token: str, error: str = "") -> str:
    """``/login``: a form whose hidden ``csrf_token`` must match the session's."""
    message = (
        f'\n        <p class="error">Error while logging in: {esc(error)}</p>' if error else ""
    )
    return _page(
        f"""<body>
    <form action="/login" method="post" accept-charset="utf-8">
        <input type="hidden" name="csrf_token" value="{esc(csrf_token)}"/>
        <p>Username:</p>
        <input type="text" name="username" />
        <p>Password:</p>
        <input type="password" name="password" /> <br>
        <input type="submit" value="Login" />{message}
    </form>
</body>
"""
    )


# -- an ASP.NET-style search form --------------------------------------------------------


def _options(values: Sequence[str], selected: str | None) -> str:
    return "".join(
        f'\n                    <option value="{esc(v)}"{" selected" if v == selected else ""}>'
        f"\n                        {esc(v)}\n                    </option>"
        for v in values
    )


def search_page(
    authors: Sequence[str],
    viewstate: str,
    *,
    author: str | None = None,
    tags: Sequence[str] = (),
    tag: str | None = None,
    results: Sequence[str] = (),
) -> str:
    """``/search.aspx`` and the answers of ``POST /filter.aspx``: author, then tag, then results."""
    found = "".join(
        f'\n            <div class="quote">\n                <span>{esc(text)}</span>\n'
        "            </div>\n            <hr />"
        for text in results
    )
    if found:
        found = "\n            <h3>Results</h3>\n            <hr />" + found
    return _page(
        f"""<body>
    <hr>
    <form action="/filter.aspx" method="post" accept-charset="utf-8" name="filterform">
        <div class="row">
            <div class="col-md-4 form-group">
                <label for="author">Author</label>
                <select class="form-control" name="author" onchange="__doPostBack()">
                    <option value="">----------</option>{_options(authors, author)}
                </select>
            </div>
        </div>
        <div class="row">
            <div class="col-md-4 form-group">
                <label for="tag">Tag</label>
                <select class="form-control" name="tag">
                    <option value="">----------</option>{_options(tags, tag)}
                </select>
            </div>
        </div>
        <input name="submit_button" type="submit" value="Search" class="btn btn-default" />
        <input type="hidden" name="__VIEWSTATE" value="{esc(viewstate)}">
    </form>
    <div class="results">{found}
    </div>
    <script type="text/javascript">
        var theForm = document.forms['filterform'];
        function __doPostBack() {{
            if (!theForm.onsubmit || (theForm.onsubmit() != false)) {{
                theForm.submit();
            }}
        }}
    </script>
</body>
"""
    )
