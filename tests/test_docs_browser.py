"""The rendered documentation, as a reader's browser shows it.

Debian's headless Chromium (driven by Playwright, which never downloads a browser here) loads
the HTML that the session's ``sphinx-build -W -n`` run produced, served on 127.0.0.1. Every
request for anything else is refused and recorded, so a font, script or image fetched from the
internet fails the tests. Each test also fails on a console error, an uncaught script error or
a local file that is missing.

Screenshots of the home page, the quickstart, the backends index, the troubleshooting page
and the Gunicorn page go to
``$DOCS_SCREENSHOT_DIR``, or to ``docs/_build/screenshots`` (git-ignored) when it is unset; the
test prints the folder.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LocalSite,
    Watcher,
    contrast_ratio,
    links_in,
    page_path,
    png_size,
    relative_luminance,
    rendered_colours,
    serve_directory,
    source_pages,
    visible_links,
)
from conftest import ROOT, DocsBuild

# One xdist worker runs the module: its fixtures (a browser, the built site) are per module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-browser")]

DOCS = ROOT / "docs"
PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
# Where a reader clicks: the page's own text and the navigation sidebar.
CLICKABLE = ["article[role=main]", ".sidebar-drawer"]
SIDEBAR = ".sidebar-drawer"
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def site(docs_build: DocsBuild) -> Iterator[LocalSite]:
    """Base URL of the built docs, served by the standard library on 127.0.0.1."""
    if not (docs_build.outdir / "index.html").is_file():
        pytest.fail(f"the docs build produced no index.html:\n{docs_build.output}")
    with serve_directory(docs_build.outdir) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; missing Chromium is a failure, never a skip."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run 'make system-deps' "
            "(apt-get install chromium); the docs browser tests need it"
        )
    playwright: Playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass(repr=False)
class Reader:
    """Opens pages in fresh browser contexts and watches everything they do."""

    browser: Browser
    base: str
    watcher: Watcher
    contexts: list[BrowserContext] = field(default_factory=list)

    def open(
        self,
        path: str,
        *,
        viewport: ViewportSize = DESKTOP,
        theme: str | None = None,
        clipboard: bool = False,
        intercept: bool = True,
    ) -> Page:
        """A new page at ``viewport`` showing ``path``, in Furo's ``theme`` if given."""
        context = self.browser.new_context(viewport=viewport)
        self.contexts.append(context)
        if clipboard:
            context.grant_permissions(
                ["clipboard-read", "clipboard-write"], origin=self.base.rstrip("/")
            )
        if theme is not None:
            # Furo keeps the reader's choice from its theme toggle in localStorage["theme"].
            # The script also runs in the blank page a context starts with, which has no storage.
            context.add_init_script(
                f"if (location.protocol === 'http:') localStorage.setItem('theme', {theme!r})"
            )
        self.watcher.attach(context, intercept=intercept)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(self.base + path)
        return page

    def close(self, page: Page) -> None:
        self.contexts.remove(page.context)
        page.context.close()

    def assert_clean(self) -> None:
        problems = self.watcher.problems()
        report = "".join(
            f"\n{kind}:" + "".join(f"\n  {item}" for item in items)
            for kind, items in problems.items()
        )
        assert not problems, f"the pages misbehaved in the browser:{report}"


@pytest.fixture
def reader(browser: Browser, site: LocalSite) -> Iterator[Reader]:
    who = Reader(browser, site.base, Watcher(site))
    try:
        yield who
    finally:
        for context in who.contexts:
            context.close()


def built_pages(outdir: Path) -> list[str]:
    return sorted(
        path.relative_to(outdir).as_posix()
        for path in outdir.rglob("*.html")
        if not path.relative_to(outdir).parts[0].startswith("_")
    )


def heading(page: Page) -> str:
    return page.locator("article[role=main] h1").first.inner_text().strip("#¶ \n")


# -- Every page -----------------------------------------------------------------------------


# The page itself and every box around the text that scrolls or clips (Furo lets its content
# box scroll sideways on narrow screens rather than the page): which has more content than
# width. Boxes that let content spill over visibly pass it on to one of these.
SIDEWAYS_SCROLLING_JS = """
() => {
  const boxes = [document.documentElement];
  const article = document.querySelector("article[role=main]");
  for (let box = article; box && box !== document.documentElement; box = box.parentElement) {
    if (getComputedStyle(box).overflowX !== "visible") boxes.push(box);
  }
  return boxes
    .filter(box => box.scrollWidth > box.clientWidth)
    .map(box => `<${box.tagName.toLowerCase()} class="${box.className}">: `
                + `${box.scrollWidth} px of content in ${box.clientWidth} px`);
}
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_loads_cleanly_and_fits_the_screen(
    reader: Reader, docs_build: DocsBuild, width: str
) -> None:
    """No console error, no outside request, no missing file; no sideways scrolling.

    Long code blocks and tables may scroll inside their own box; the page, and the boxes that
    hold the text, must not scroll sideways.
    """
    pages = built_pages(docs_build.outdir)
    assert {"index.html", "guides/quickstart.html", "backends/gunicorn.html"} <= set(pages)
    page = reader.open("index.html", viewport=WIDTHS[width])
    too_wide = {}
    for path in pages:
        page.goto(reader.base + path)
        overflowing = page.evaluate(SIDEWAYS_SCROLLING_JS)
        if overflowing:
            too_wide[path] = overflowing
    assert too_wide == {}, f"pages scroll sideways at {WIDTHS[width]['width']} px"
    reader.assert_clean()


def test_a_browser_left_alone_reports_nothing_missing(reader: Reader) -> None:
    """Without request interception Chromium also fetches what it wants on its own.

    A page that declares no icon makes every reader's browser ask for ``/favicon.ico``, and
    the 404 answer is a console error.
    """
    page = reader.open("index.html", intercept=False)
    page.goto(reader.base + "guides/quickstart.html")
    page.wait_for_load_state("networkidle")
    reader.assert_clean()


# -- Navigation -----------------------------------------------------------------------------


_MARK_LINK_JS = """
([scopes, target]) => {
  for (const scope of scopes) {
    for (const element of document.querySelectorAll(scope)) {
      for (const a of element.querySelectorAll("a[href]")) {
        const visible = a.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
        if (visible && a.href.split("#")[0] === target) {
          a.setAttribute("data-reader-clicks", "");
          return true;
        }
      }
    }
  }
  return false;
}
"""


def click_link_to(page: Page, base: str, target: str) -> None:
    """Click the first visible link (in the text or the sidebar) to the page ``target``.

    A card of the home page is a link as a whole (sphinx-design stretches an empty link over
    it): the reader clicks the card.
    """
    found = page.evaluate(_MARK_LINK_JS, [CLICKABLE, base + target])
    assert found, f"no visible link to {target} on {page.url}"
    marked = page.locator("[data-reader-clicks]")
    card = page.locator(".sd-card", has=page.locator("a.sd-stretched-link[data-reader-clicks]"))
    with page.expect_navigation():
        (card if card.count() else marked).click()
    assert page_path(page.url, base) == target


def test_quickstart_is_one_click_from_the_home_page(reader: Reader) -> None:
    page = reader.open("index.html")
    click_link_to(page, reader.base, "guides/quickstart.html")
    assert heading(page).startswith("Quickstart")
    reader.assert_clean()


def clicks_from_home(page: Page, base: str, max_depth: int) -> dict[str, list[str]]:
    """Every page reachable from the home page, with the shortest list of pages clicked."""
    routes: dict[str, list[str]] = {"index.html": []}
    queue = deque(["index.html"])
    while queue:
        current = queue.popleft()
        if len(routes[current]) == max_depth:
            continue
        page.goto(base + current)
        for url in visible_links(page, CLICKABLE):
            if not url.startswith(base):
                continue
            target = page_path(url, base)
            if target.endswith(".html") and target not in routes:
                routes[target] = [*routes[current], target]
                queue.append(target)
    return routes


def test_every_backend_page_is_at_most_two_clicks_from_the_home_page(reader: Reader) -> None:
    backend_pages = sorted(
        f"backends/{path.stem}.html" for path in (DOCS / "backends").glob("*.md")
    )
    assert "backends/gunicorn.html" in backend_pages
    page = reader.open("index.html")
    routes = clicks_from_home(page, reader.base, max_depth=2)
    unreachable = [target for target in backend_pages if target not in routes]
    assert unreachable == [], "backend pages more than two clicks away from the home page"
    # Follow each route with real clicks, as a reader would.
    for target in backend_pages:
        page.goto(reader.base + "index.html")
        for step in routes[target]:
            click_link_to(page, reader.base, step)
        assert page_path(page.url, reader.base) == target
    reader.assert_clean()


@pytest.mark.parametrize("path", ["index.html", "backends/gunicorn.html"])
def test_the_sidebar_lists_every_page(reader: Reader, path: str) -> None:
    page = reader.open(path)
    listed = {page_path(url, reader.base) for url in links_in(page, SIDEBAR)}
    assert listed == source_pages(DOCS)
    reader.assert_clean()


# The sidebar's captions in order, each with the pages directly under it (a page's own
# sub-pages, such as the backend pages under the backends index, follow it).
SIDEBAR_ORDER = {
    "Getting started": ["installation.html", "guides/quickstart.html", "usage.html"],
    "Guides": [
        f"guides/{name}.html"
        for name in (
            "environment-configs",
            "multi-process",
            "docker-deployment",
            "systemd",
            "kubernetes",
            "platforms",
            "backend-switching",
            "custom-backend",
        )
    ],
    "Reference": ["configuration.html", "backends/index.html", "api.html"],
    "Help": ["troubleshooting.html"],
    "Project": ["backends/benchmarks.html", "contributing.html"],
}

SIDEBAR_SECTIONS_JS = """
() => [...document.querySelectorAll(".sidebar-tree p.caption")].map(caption => {
  const list = caption.nextElementSibling;
  const top = list ? [...list.querySelectorAll(":scope > li > a.reference")] : [];
  const all = list ? [...list.querySelectorAll("a.reference")] : [];
  return {
    caption: caption.textContent.trim(),
    top: top.map(a => a.href),
    all: all.map(a => a.href),
  };
})
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["index.html", "guides/quickstart.html", "backends/gunicorn.html"])
def test_the_sidebar_lists_each_page_once_under_its_caption(
    reader: Reader, path: str, width: str
) -> None:
    """Getting started, Guides, Reference, Help, Project: in that order, no page twice."""
    page = reader.open(path, viewport=WIDTHS[width])
    sections = page.evaluate(SIDEBAR_SECTIONS_JS)
    found = {
        section["caption"]: [page_path(url, reader.base) for url in section["top"]]
        for section in sections
    }
    assert [section["caption"] for section in sections] == list(SIDEBAR_ORDER)
    assert found == SIDEBAR_ORDER
    every_link = [page_path(url, reader.base) for s in sections for url in s["all"]]
    twice = sorted({target for target in every_link if every_link.count(target) > 1})
    assert twice == [], "pages listed more than once in the sidebar"
    assert "guides/index.html" not in every_link, "the guides index is reached from the cards"
    reader.assert_clean()


def test_next_from_the_quickstart_leads_to_usage_then_the_guides(reader: Reader) -> None:
    page = reader.open("guides/quickstart.html")
    followed = []
    for _ in range(2):
        link = page.locator("a.next-page")
        with page.expect_navigation():
            link.click()
        followed.append(page_path(page.url, reader.base))
    assert followed == ["usage.html", "guides/environment-configs.html"]
    reader.assert_clean()


# -- The home page --------------------------------------------------------------------------

HOME_CARDS = {
    "Quickstart": "guides/quickstart.html",
    "Choose a backend": "backends/index.html",
    "Deploy": "guides/index.html",
    "Troubleshooting": "troubleshooting.html",
}

CARDS_JS = """
() => [...document.querySelectorAll("article[role=main] .sd-card")]
  .filter(card => card.checkVisibility())
  .map(card => {
    const box = card.getBoundingClientRect();
    const link = card.querySelector("a.sd-stretched-link");
    return {
      title: card.querySelector(".sd-card-title")?.innerText.trim(),
      href: link ? link.href : null,
      left: Math.round(box.left),
      top: Math.round(box.top),
      width: Math.round(box.width),
    };
  })
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_home_page_shows_the_cards(reader: Reader, width: str) -> None:
    """Four cards, each a link to its page: one column on a phone, two side by side wider."""
    page = reader.open("index.html", viewport=WIDTHS[width])
    cards = page.evaluate(CARDS_JS)
    assert {card["title"]: page_path(card["href"], reader.base) for card in cards} == HOME_CARDS
    columns = {card["left"] for card in cards}
    assert len(columns) == (1 if width == "phone" else 2), cards
    for card in cards:
        assert card["width"] <= WIDTHS[width]["width"], card
    # No list on the home page repeats the sidebar.
    assert page.locator("article[role=main] ul li a.reference").count() == 0
    # A card is clicked like a link.
    with page.expect_navigation():
        page.locator(".sd-card", has_text="Troubleshooting").click()
    assert page_path(page.url, reader.base) == "troubleshooting.html"
    reader.assert_clean()


# -- Identifiers ----------------------------------------------------------------------------

# For every inline code element of the page: the text, and the characters before which the
# browser broke it onto a new line (found from the position of each character on screen).
LINE_BREAKS_JS = r"""
() => [...document.querySelectorAll("article[role=main] code")]
  .filter(code => code.checkVisibility() && !code.closest("pre"))
  .map(code => {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const chars = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        chars.push({ch: node.data[i], top: rect ? Math.round(rect.top) : null});
      }
    }
    const text = chars.map(c => c.ch).join("");
    const breaks = [];
    let lastTop = null;
    chars.forEach((c, i) => {
      if (c.top === null || /\s/.test(c.ch)) return;
      if (lastTop !== null && c.top > lastTop + 2) breaks.push(i);
      lastTop = c.top;
    });
    return {text, breaks};
  })
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["backends/index.html", "configuration.html"])
def test_identifiers_break_only_after_a_dot_or_at_a_space(
    reader: Reader, path: str, width: str
) -> None:
    """`GunicornServer` never becomes "GunicornS / erver": a line may end after a dot only."""
    page = reader.open(path, viewport=WIDTHS[width])
    codes = page.evaluate(LINE_BREAKS_JS)
    assert any("GunicornServer" in code["text"] for code in codes)
    mid_word = [
        f"{code['text'][:index]} / {code['text'][index:]}"
        for code in codes
        for index in code["breaks"]
        if not (code["text"][index - 1] in "./-=" or code["text"][index - 1].isspace())
    ]
    assert mid_word == [], "identifiers broken inside a word"
    reader.assert_clean()


# -- Copy buttons and tabs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "block_text", "command"),
    [
        pytest.param(
            "guides/quickstart.html",
            "--dry-run",
            "python manage.py prodserver web --dry-run",
            id="command-with-output",
        ),
        pytest.param(
            "guides/quickstart.html",
            "mkdir prodserver-quickstart",
            "mkdir prodserver-quickstart\ncd prodserver-quickstart\n"
            "python3 -m venv .venv\nsource .venv/bin/activate",
            id="several-commands",
        ),
        pytest.param(
            "index.html",
            "$ python manage.py prodserver web",
            "python manage.py prodserver web",
            id="home-page",
        ),
    ],
)
def test_the_copy_button_copies_the_command_without_prompt_or_output(
    reader: Reader, path: str, block_text: str, command: str
) -> None:
    page = reader.open(path, clipboard=True)
    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    block = page.locator("div.highlight-console", has_text=block_text).first
    assert block.inner_text().lstrip().startswith("$ ")  # the page shows the prompt
    block.hover()
    block.locator("button.copybtn").click()
    page.wait_for_function("navigator.clipboard.readText().then(t => t !== 'nothing copied yet')")
    assert page.evaluate("navigator.clipboard.readText()") == command
    reader.assert_clean()


SHOWN_PANEL_TEXT_JS = """
(tabSet) => [...tabSet.querySelectorAll(":scope > .sd-tab-content")]
  .filter(panel => panel.checkVisibility())
  .map(panel => panel.innerText)
"""


def tab_label(page: Page, label: str) -> Locator:
    """Tab labels reading exactly ``label`` ("uv", not "ASGI (Uvicorn)")."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return page.locator("label.sd-tab-label").filter(has_text=exact)


def shown_panels(page: Page, label: str) -> list[str]:
    """The text of the visible panel of every tab set that has a tab labelled ``label``."""
    tab_sets = page.locator(".sd-tab-set").filter(has=tab_label(page, label))
    assert tab_sets.count() > 0, f"no tab set with a {label!r} tab on {page.url}"
    panels = []
    for tab_set in tab_sets.all():
        shown = tab_set.evaluate(SHOWN_PANEL_TEXT_JS)
        assert len(shown) == 1, f"a tab set shows {len(shown)} panels"
        panels.append(shown[0])
    return panels


def test_pip_and_uv_tabs_switch_together_and_the_choice_is_remembered(reader: Reader) -> None:
    page = reader.open("installation.html")
    before = shown_panels(page, "uv")
    assert len(before) >= 2, "installation.html has two pip/uv tab sets to keep in sync"
    assert all("pip install" in text and "uv add" not in text for text in before)

    tab_label(page, "uv").first.click()
    after = shown_panels(page, "uv")
    assert all("uv add" in text and "pip install" not in text for text in after), after

    # Another page opens on the reader's choice.
    page.goto(reader.base + "guides/multi-process.html")
    assert all("uv add" in text for text in shown_panels(page, "uv"))
    reader.assert_clean()


def test_wsgi_and_asgi_tabs_switch(reader: Reader) -> None:
    page = reader.open("installation.html")
    (before,) = shown_panels(page, "ASGI (Uvicorn)")
    assert "GunicornServer" in before and "UvicornServer" not in before
    tab_label(page, "ASGI (Uvicorn)").click()
    (after,) = shown_panels(page, "ASGI (Uvicorn)")
    assert "UvicornServer" in after and "GunicornServer" not in after
    reader.assert_clean()


# -- Search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [("gunicorn", "backends/gunicorn.html"), ("celery beat", "backends/celery.html")],
)
def test_search_finds_the_backend_page(reader: Reader, query: str, expected: str) -> None:
    page = reader.open(f"search.html?q={query.replace(' ', '+')}")
    # Sphinx's search script loads the index, then writes a summary when it has finished.
    page.locator("#search-results h2", has_text="Search Results").wait_for()
    summary = page.locator("#search-results .search-summary").inner_text()
    assert summary.startswith("Search finished"), summary
    results = [page_path(url, reader.base) for url in links_in(page, "#search-results ul.search")]
    assert expected in results[:3], f"{query!r} finds {results}"
    reader.assert_clean()


# -- Themes and screenshots -----------------------------------------------------------------

# Text a reader must be able to read on every one of these pages (each visible one is checked).
READABLE = {
    "body text": "article[role=main] section > p",
    "admonition title": "article[role=main] .admonition-title",
    "admonition text": "article[role=main] .admonition > p:not(.admonition-title)",
    "link in the text": "article[role=main] a.reference",
    "sidebar link": ".sidebar-tree a.reference",
    "code": "article[role=main] div.highlight pre",
    # Every highlighted token but whitespace (which Pygments colours too, invisibly).
    "code token": "article[role=main] div.highlight pre span:not(.w)",
    "inline code": "article[role=main] code.literal",
}


# The home page has cards where other pages have admonitions.
HOME_READABLE = {
    **{what: selector for what, selector in READABLE.items() if "admonition" not in what},
    "card title": "article[role=main] .sd-card-title",
    "card text": "article[role=main] .sd-card-text",
}


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("path", ["index.html", "guides/quickstart.html", "backends/gunicorn.html"])
def test_both_themes_are_readable(reader: Reader, path: str, theme: str) -> None:
    page = reader.open(path, theme=theme)
    assert page.evaluate("document.body.dataset.theme") == theme
    ((_, page_background),) = rendered_colours(page, "article[role=main]")
    if theme == "dark":
        assert relative_luminance(page_background) < 0.1, page_background
    else:
        assert relative_luminance(page_background) > 0.8, page_background
    lowest = {}
    for what, selector in (HOME_READABLE if path == "index.html" else READABLE).items():
        pairs = rendered_colours(page, selector)
        assert pairs, f"no visible {what} ({selector}) on {path}"
        lowest[what] = round(min(contrast_ratio(text, bg) for text, bg in pairs), 2)
    # WCAG AA for body-size text; the lowest ratio of each kind of text on the page.
    assert min(lowest.values()) >= 4.5, lowest
    reader.assert_clean()


def screenshot_dir() -> Path:
    return Path(os.environ.get("DOCS_SCREENSHOT_DIR") or DOCS / "_build" / "screenshots")


SCREENSHOT_PAGES = {
    "home": "index.html",
    "quickstart": "guides/quickstart.html",
    "gunicorn": "backends/gunicorn.html",
    "backends": "backends/index.html",
    "troubleshooting": "troubleshooting.html",
}


def test_screenshots_for_review(reader: Reader, capsys: pytest.CaptureFixture[str]) -> None:
    """Full-page screenshots, every page at both widths in both themes, for a reviewer."""
    folder = screenshot_dir().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, path in SCREENSHOT_PAGES.items():
        for width, viewport in WIDTHS.items():
            for theme in ("light", "dark"):
                target = folder / f"{name}-{width}-{theme}.png"
                target.unlink(missing_ok=True)
                page = reader.open(path, viewport=viewport, theme=theme)
                page.screenshot(path=str(target), full_page=True)
                reader.close(page)
                written.append(target)
    with capsys.disabled():
        print(f"\ndocs screenshots: {folder}")
    for target in written:
        assert target.stat().st_size > 20_000, f"{target} is nearly empty"
        pixels_wide, pixels_high = png_size(target)
        expected = PHONE if "-phone-" in target.name else DESKTOP
        assert pixels_wide == expected["width"], (target, pixels_wide)
        assert pixels_high >= expected["height"], (target, pixels_high)
    reader.assert_clean()
