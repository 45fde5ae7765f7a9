"""Helpers for driving Debian's Chromium over the built docs (used by test_docs_browser.py).

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright's own driver: Playwright
never downloads a browser here. The site is served by the standard library on 127.0.0.1 and
every request to anywhere else is recorded and refused, so a page that would fetch a font, a
script or an image from the internet shows up as a test failure instead of a slow page.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    # Safety net under the request routing below: no host name resolves, so a request the
    # routing does not see (the browser's own, or a page's when routing is off) cannot
    # leave the machine by name; the routing also refuses addresses given as IP numbers.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# Browser-internal addresses that are not network requests.
_LOCAL_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class LocalSite:
    """The built docs served on 127.0.0.1: the base URL, and every request it could not answer.

    The server's own record also catches requests the browser makes by itself (such as
    ``/favicon.ico``), which page events do not always show.
    """

    base: str
    errors: list[str] = field(default_factory=list)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serve files quietly (no log line per request), remembering every error answer."""

    site: LocalSite

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            self.site.errors.append(f"{int(code)} {self.path}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the browser drops a connection (closing a page does that)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[LocalSite]:
    """Serve ``root`` over HTTP on a free port of 127.0.0.1."""
    site = LocalSite(base="")
    handler_class = type("Handler", (_Handler,), {"site": site})
    handler = functools.partial(handler_class, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Watcher:
    """What went wrong while a test browsed: console errors, script errors, requests.

    ``outside`` lists requests to anything but the local site (they are aborted);
    ``broken`` lists local requests answered with an HTTP error (a missing asset) as the
    pages saw them; the server's own record since this watcher was made is added to those.
    """

    site: LocalSite
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    _server_errors_before: int = 0

    def __post_init__(self) -> None:
        self._server_errors_before = len(self.site.errors)

    @property
    def base(self) -> str:
        return self.site.base

    def attach(self, context: BrowserContext, *, intercept: bool = True) -> None:
        """Watch every page of ``context``; refuse outside requests unless not ``intercept``.

        Chromium stops asking for ``/favicon.ico`` on its own once requests are intercepted,
        so a context that should behave exactly like a reader's browser is left alone: the
        host-resolver rule in ``CHROMIUM_ARGS`` still stops any outside host name, and
        outside requests are still recorded.
        """
        if intercept:
            context.route("**/*", self._route)
        else:
            context.on("request", self._record)
        context.on("page", self._watch_page)

    def _is_local(self, url: str) -> bool:
        return url.startswith(self.base) or url.startswith(_LOCAL_SCHEMES)

    def _record(self, request: Request) -> None:
        if not self._is_local(request.url):
            self.outside.append(f"{request.url} (from {request.frame.url})")

    def _route(self, route: Route) -> None:
        if self._is_local(route.request.url):
            route.continue_()
        else:
            self._record(route.request)
            route.abort()

    def _watch_page(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_errors.append(f"{page.url}: {message.text}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self.broken.append(f"{response.status} {response.url} (on {page.url})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("response", on_response)

    def problems(self) -> dict[str, list[str]]:
        """Every non-empty list of problems, by kind (empty when all went well)."""
        kinds = {
            "console errors": self.console_errors,
            "uncaught script errors": self.page_errors,
            "requests leaving 127.0.0.1": self.outside,
            "local requests answered with an HTTP error": self.broken,
            "requests the server could not answer": self.site.errors[self._server_errors_before :],
        }
        return {kind: items for kind, items in kinds.items() if items}


def page_path(url: str, base: str) -> str:
    """The built page a URL points at, relative to the site root ("guides/quickstart.html")."""
    path = urldefrag(url).url.split("?", 1)[0]
    assert path.startswith(base), f"{url} is not on the local site {base}"
    relative = path[len(base) :]
    return relative + "index.html" if relative == "" or relative.endswith("/") else relative


# Links a reader can see and click (an element with no box or hidden by CSS is not clickable).
_VISIBLE_LINKS_JS = """
(selectors) => {
  const links = [];
  for (const selector of selectors) {
    for (const scope of document.querySelectorAll(selector)) {
      for (const a of scope.querySelectorAll("a[href]")) {
        if (a.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) {
          links.push(a.href);
        }
      }
    }
  }
  return links;
}
"""


def visible_links(page: Page, selectors: list[str]) -> list[str]:
    """Absolute targets of the visible links inside the elements matching ``selectors``."""
    return list(page.evaluate(_VISIBLE_LINKS_JS, selectors))


def links_in(page: Page, selector: str) -> list[str]:
    """Absolute targets of every link inside ``selector``, visible or not."""
    hrefs = page.eval_on_selector_all(
        f"{selector} a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    return [urljoin(page.url, href) for href in hrefs]


# The colour layers that decide how visible elements' text looks: the text colour, then the
# background colours of the element and its ancestors up to the first opaque one. Colours
# are normalised to sRGB bytes by painting them on a canvas, whatever CSS syntax they use.
_COLOUR_LAYERS_JS = """
(elements) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;  // not premultiplied
    return [r, g, b, a / 255];
  };
  const layers = (element) => {
    const text = rgba(getComputedStyle(element).color);
    const backgrounds = [];
    for (let node = element; node; node = node.parentElement) {
      const layer = rgba(getComputedStyle(node).backgroundColor);
      if (layer[3] > 0) backgrounds.push(layer);
      if (layer[3] >= 1) break;
    }
    return {text, backgrounds};
  };
  return elements.filter(element => element.checkVisibility()).slice(0, 500).map(layers);
}
"""

Colour = tuple[float, float, float]


def _over(top: list[float], bottom: Colour) -> Colour:
    alpha = top[3]
    return (
        top[0] * alpha + bottom[0] * (1 - alpha),
        top[1] * alpha + bottom[1] * (1 - alpha),
        top[2] * alpha + bottom[2] * (1 - alpha),
    )


def rendered_colours(page: Page, selector: str) -> list[tuple[Colour, Colour]]:
    """(text colour, background colour) of each visible element matching ``selector``.

    At most the first 500. Translucent backgrounds are composited over their ancestors' (white
    if none is opaque, as the browser's canvas is).
    """
    pairs = []
    for layers in page.locator(selector).evaluate_all(_COLOUR_LAYERS_JS):
        background: Colour = (255.0, 255.0, 255.0)
        for layer in reversed(layers["backgrounds"]):
            background = _over(layer, background)
        pairs.append((_over(layers["text"], background), background))
    return pairs


def relative_luminance(colour: Colour) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 0-255 channels."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: Colour, second: Colour) -> float:
    """WCAG 2 contrast ratio, from 1 (identical) to 21 (black on white)."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


_INCLUDE = re.compile(r"(?:\{include\}|\.\.\s+include::)\s*(\S+)")


def source_pages(docs: Path) -> set[str]:
    """The HTML pages the Markdown and reST sources should produce ("backends/gunicorn.html").

    Leaves out the 404 page (not part of the navigation), the build directory, fragments
    that another page includes (they have no page of their own), and pages marked
    ``orphan: true`` (reached from links in the text, not from the sidebar).
    """
    sources = [
        path
        for pattern in ("*.md", "*.rst")
        for path in docs.rglob(pattern)
        if "_build" not in path.relative_to(docs).parts
    ]
    included = {
        (path.parent / match).resolve()
        for path in sources
        for match in _INCLUDE.findall(path.read_text(encoding="utf-8"))
    }
    return {
        path.relative_to(docs).with_suffix(".html").as_posix()
        for path in sources
        if path.resolve() not in included
        and path.relative_to(docs).as_posix() != "404.md"
        and not is_orphan(path)
    }


_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n", re.DOTALL)


def is_orphan(path: Path) -> bool:
    """Whether a source page declares itself outside every toctree (MyST or reST)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".rst":
        return text.startswith(":orphan:")
    front = _FRONT_MATTER.match(text)
    return front is not None and re.search(r"^orphan:\s*true\s*$", front.group(1), re.M) is not None


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG file's header (raises if the file is not a PNG)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
