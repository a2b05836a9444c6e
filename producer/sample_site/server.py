"""The sample site's HTTP server: every variant's routes, on 127.0.0.1.

A threaded ``http.server``; pages are rendered from ``SiteData`` on request.
State kept per visitor: a ``session`` cookie naming a server-side session
(its login form's CSRF token, and the user once logged in). Options for
tests: ``delay`` slows every answer but robots.txt, ``statuses`` makes some
paths answer an error status instead.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from . import pages
from .data import SiteData

#: The file ``generate_site`` writes: the page count and robots.txt.
SITE_FILE = "site.json"

_NUMBERED = re.compile(
    r"^/(?:(?P<variant>js|js-delayed|js-onclick|tableful)/)?(?:page/(?P<n>\d+)/)?$"
)
_AUTHOR = re.compile(r"^/author/(?P<slug>[^/]+)(?P<slash>/?)$")


def load_site(directory: str | Path) -> SiteData:
    """The site that ``generate_site`` wrote into ``directory``."""
    path = Path(directory) / SITE_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: make the site with generate_site()") from None
    return SiteData.build(int(spec["pages"]), spec.get("robots"))


@dataclasses.dataclass(frozen=True)
class Hit:
    """One request the site answered."""

    path: str
    status: int
    user_agent: str
    method: str = "GET"


@dataclasses.dataclass
class _Session:
    csrf_token: str = ""
    username: str | None = None


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _html(text: str, status: int = 200) -> _Answer:
    return _Answer(status, text.encode("utf-8"))


def _redirect(location: str, status: int = HTTPStatus.FOUND) -> _Answer:
    return _Answer(status, headers=(("Location", location),))


_NOT_FOUND = _Answer(HTTPStatus.NOT_FOUND, b"Not Found", "text/plain; charset=utf-8")


class _Visitor:
    """A request's session: an existing one, or a blank one made real by ``start``."""

    def __init__(self, routes: _Routes, sid: str | None, session: _Session) -> None:
        self._routes = routes
        self.sid = sid
        self.session = session
        #: A session id to hand out with ``Set-Cookie``.
        self.new_sid: str | None = None

    def start(self) -> _Session:
        """The session, created (and its cookie set) if the visitor had none."""
        if self.sid is None:
            self.sid, self.session = self._routes.new_session()
            self.new_sid = self.sid
        return self.session


class _Routes:
    """What the site answers, independent of the HTTP plumbing."""

    def __init__(self, site: SiteData) -> None:
        self.site = site
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def visitor(self, sid: str | None) -> _Visitor:
        """Whoever sent a request with the session cookie ``sid`` (or none)."""
        with self._lock:
            session = self._sessions.get(sid) if sid is not None else None
        return _Visitor(self, sid if session is not None else None, session or _Session())

    def new_session(self) -> tuple[str, _Session]:
        with self._lock:
            sid = secrets.token_hex(16)
            session = self._sessions[sid] = _Session()
        return sid, session

    def get(self, path: str, query: Mapping[str, list[str]], visitor: _Visitor) -> _Answer:
        fixed = {
            "/robots.txt": self._robots,
            "/scroll": lambda: _html(pages.scroll_page()),
            "/api/quotes": lambda: self._api(query),
            "/login": lambda: self._login_form(visitor),
            "/logout": lambda: self._logout(visitor),
            "/search.aspx": self._search_form,
        }.get(path)
        if fixed is not None:
            return fixed()
        logged_in = visitor.session.username is not None
        numbered = _NUMBERED.match(path)
        if numbered:
            return self._list_page(numbered["variant"], int(numbered["n"] or 1), logged_in)
        author = _AUTHOR.match(path)
        if author:
            found = self.site.authors.get(author["slug"])
            if found is None:
                return _NOT_FOUND
            if not author["slash"]:  # the "(about)" links omit it; the site redirects
                return _redirect(path + "/", HTTPStatus.MOVED_PERMANENTLY)
            return _html(pages.author_page(found, logged_in))
        return _NOT_FOUND

    def _robots(self) -> _Answer:
        if self.site.robots is None:
            return _NOT_FOUND
        return _Answer(200, self.site.robots.encode(), "text/plain; charset=utf-8")

    def _list_page(self, variant: str | None, page: int, logged_in: bool) -> _Answer:
        if variant is None:
            return _html(pages.main_page(self.site, page, logged_in))
        if variant == "tableful":
            return _html(pages.table_page(self.site, page))
        return _html(pages.js_page(self.site, variant, page))

    def _api(self, query: Mapping[str, list[str]]) -> _Answer:
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            return _NOT_FOUND
        body = json.dumps(pages.api_quotes(self.site, page), sort_keys=True).encode()
        return _Answer(200, body, "application/json")

    def _login_form(self, visitor: _Visitor) -> _Answer:
        session = visitor.start()
        session.csrf_token = secrets.token_urlsafe(24)
        return _html(pages.login_page(session.csrf_token))

    def _logout(self, visitor: _Visitor) -> _Answer:
        visitor.session.username = None
        return _redirect("/")

    def _search_form(self) -> _Answer:
        authors = list(self.site.by_author_and_tag)
        return _html(pages.search_page(authors, _viewstate([secrets.token_hex(8), *authors])))

    def post(self, path: str, form: Mapping[str, list[str]], visitor: _Visitor) -> _Answer:
        def field(name: str) -> str:
            return form.get(name, [""])[0]

        if path == "/login":
            session = visitor.start()
            if not field("username"):
                error = "please, provide your username."
            elif not session.csrf_token or field("csrf_token") != session.csrf_token:
                error = "invalid CSRF token."
            else:
                session.username = field("username")
                return _redirect("/")
            session.csrf_token = secrets.token_urlsafe(24)
            return _html(pages.login_page(session.csrf_token, error))
        if path == "/filter.aspx":
            return self._filter(field("author"), field("tag"), field("__VIEWSTATE"))
        return _Answer(HTTPStatus.METHOD_NOT_ALLOWED)

    def _filter(self, author: str, tag: str, viewstate: str) -> _Answer:
        """``POST /filter.aspx``: the author must be one the page's view state offered."""
        state = _read_viewstate(viewstate)
        if state is None or not author or author not in state:
            return _redirect("/search.aspx")
        by_tag = self.site.by_author_and_tag.get(author, {})
        results = [q.text for q in by_tag.get(tag, [])]
        if tag:
            state = [*state, tag]
        return _html(
            pages.search_page(
                list(self.site.by_author_and_tag),
                _viewstate(state),
                author=author,
                tags=list(by_tag),
                tag=tag or None,
                results=results,
            )
        )


def _viewstate(values: list[str]) -> str:
    return base64.b64encode(json.dumps(values).encode()).decode()


def _read_viewstate(raw: str) -> list[str] | None:
    try:
        values = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return None
    return values if isinstance(values, list) else None


class _Handler(http.server.BaseHTTPRequestHandler):
    """One request: routed to ``_Routes``; the class attributes are set per server."""

    server_version = "quotesite"
    routes: _Routes
    delay: float
    statuses: dict[str, int]
    hits: list[Hit]
    lock: threading.Lock

    def do_GET(self) -> None:
        self._answer(lambda path, visitor: self.routes.get(path, self._query(), visitor))

    def do_POST(self) -> None:
        self._answer(lambda path, visitor: self.routes.post(path, self._form(), visitor))

    def _query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    def _form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        return urllib.parse.parse_qs(body, keep_blank_values=True)

    def _answer(self, route: Callable[[str, _Visitor], _Answer]) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if self.delay and path != "/robots.txt":
            time.sleep(self.delay)
        visitor = self.routes.visitor(self._session_id())
        status = self.statuses.get(path)
        answer = _Answer(status, b"failed", "text/plain") if status else route(path, visitor)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        if visitor.new_sid is not None:
            self.send_header("Set-Cookie", f"session={visitor.new_sid}; Path=/; HttpOnly")
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _session_id(self) -> str | None:
        try:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get("session")
        except CookieError:
            return None
        return morsel.value if morsel is not None else None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        with self.lock:
            self.hits.append(
                Hit(self.path, int(code), self.headers.get("User-Agent", ""), self.command)
            )

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log on stderr


class SiteServer:
    """The site generated in ``directory``, served on 127.0.0.1, port chosen by the OS.

    ``host`` and ``port`` choose otherwise (the compose file's ``site`` service
    listens on 0.0.0.0:8000). ``hits`` lists every request answered, in order
    (thread-safe to read). ``delay`` (seconds) holds every answer but
    robots.txt back that long; ``statuses`` maps paths to an error status they
    answer instead.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        statuses: Mapping[str, int] | None = None,
    ) -> None:
        self.hits: list[Hit] = []
        handler = type(
            "Handler",
            (_Handler,),
            {
                "routes": _Routes(load_site(directory)),
                "delay": delay,
                "statuses": dict(statuses or {}),
                "hits": self.hits,
                "lock": threading.Lock(),
            },
        )
        self._httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="quotesite", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` (the host given, if another)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def paths(self, status: int | None = 200) -> set[str]:
        """Paths answered so far (with ``status``, or any status for ``None``)."""
        return {h.path for h in list(self.hits) if status is None or h.status == status}

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_site(directory: str | Path) -> tuple[str, Callable[[], None]]:
    """Serve ``directory`` on 127.0.0.1 in a thread: returns ``(url, stop)``."""
    server = SiteServer(directory)
    return server.url, server.stop
