"""The documentation builds warning-free, exactly as CI and Read the Docs build it.

One real ``sphinx-build -W -n --keep-going`` run (nitpicky: every reference must resolve; the
API reference imports every backend with Django configured) is shared by the tests of this
module; each then checks one promise of the built HTML.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import DocsBuild

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-build")]


@pytest.fixture(scope="module")
def build(docs_build: DocsBuild) -> DocsBuild:
    return docs_build


def warnings_in(output: str) -> list[str]:
    """Sphinx's and docutils' problem lines (docutils reports some as SEVERE or CRITICAL)."""
    levels = ("WARNING", "ERROR", "SEVERE", "CRITICAL")
    return [line for line in output.splitlines() if any(level in line for level in levels)]


class _ArticleLinks(HTMLParser):
    """Collect the link targets inside the page's main ``<article>`` (not the sidebar)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.depth += 1
        elif tag == "a" and self.depth:
            self.links.extend(value for name, value in attrs if name == "href" and value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article" and self.depth:
            self.depth -= 1


def article_links(page: str) -> list[str]:
    parser = _ArticleLinks()
    parser.feed(page)
    return parser.links


def test_docs_build_without_warnings(build: DocsBuild) -> None:
    assert warnings_in(build.output) == [], build.output[-5000:]
    assert build.returncode == 0, build.output[-5000:]
    assert "build succeeded" in build.output


def test_quickstart_is_one_click_from_the_home_page(build: DocsBuild) -> None:
    links = article_links(build.page("index.html"))
    assert "guides/quickstart.html" in links, links
    assert (build.outdir / "guides" / "quickstart.html").is_file()


def test_every_source_page_is_built(build: DocsBuild) -> None:
    """A page missing from every toctree would warn; this names the ones that were skipped."""
    sources = {
        path.relative_to(DOCS).with_suffix("").as_posix()
        for path in DOCS.rglob("*")
        if path.suffix in {".md", ".rst"} and "_build" not in path.parts
    }
    missing = sorted(name for name in sources if not (build.outdir / f"{name}.html").is_file())
    assert missing == []


def test_option_dashes_survive_smartquotes(build: DocsBuild) -> None:
    """`--dry-run` in prose and tables keeps two hyphens (no en dash)."""
    text = html.unescape(build.page("usage.html"))
    assert "--dry-run" in text
    assert "\N{EN DASH}dry-run" not in text


def test_api_reference_documents_every_backend(build: DocsBuild) -> None:
    """autodoc imported the real classes (Django configured), so each has an anchor."""
    page = build.page("api.html")
    backends = [
        "gunicorn.GunicornServer",
        "waitress.WaitressServer",
        "uvicorn.UvicornServer",
        "uvicorn.UvicornWSGIServer",
        "granian.GranianASGIServer",
        "granian.GranianWSGIServer",
        "celery.CeleryWorker",
        "celery.CeleryBeat",
        "django_tasks.DjangoTasksWorker",
        "django_q2.DjangoQ2Worker",
        "base.BaseServerBackend",
    ]
    anchors = set(re.findall(r'id="(django_prodserver\.[\w.]+)"', page))
    missing = [name for name in backends if f"django_prodserver.backends.{name}" not in anchors]
    assert missing == []
    assert "django_prodserver.args.translate_args" in anchors
    assert "django_prodserver.errors.ProdserverError" in anchors


def test_not_found_page_is_built(build: DocsBuild) -> None:
    page = build.page("404.html")
    assert "Page not found" in page
    # Read the Docs serves it for any missing URL, so its assets use absolute links.
    assert 'href="/_static/' in page
