"""The shape of the docs (issue 5, check 8), read from the sources.

* Each backend reference page has the spec's nine headings, in order. A page that covers two
  modes (Celery worker and beat) may repeat the nine once per mode; a page that shows its two
  modes in tabs (Uvicorn, Granian) has them once. Either way the headings read, in order, as
  one or more whole copies of the nine.
* Every page is listed in a toctree (read from the ``{toctree}`` / ``.. toctree::``
  directives themselves; the -W build in test_docs_build.py would also warn), and every
  toctree entry names a page that exists.
* Every external link (Markdown links, autolinks, bare URLs that linkify turns into links,
  reST links) points at a domain in the reviewed allowlist below, over https.
* ``make linkcheck`` exists, for checking those links where there is a network.

The built ``index.html`` linking the quickstart directly is checked in test_docs_build.py.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import docs_blocks

NINE_HEADINGS = (
    "Overview",
    "When to Use",
    "Installation",
    "Basic Configuration",
    "ARGS Translation",
    "Configuration Reference",
    "Advanced Examples",
    "Common Issues",
    "Official Documentation",
)
NOT_BACKEND_PAGES = {"index", "benchmarks"}

# Pages that are deliberately in no toctree, and why.
OUTSIDE_TOCTREES = {
    "index": "the root document, which holds the top-level toctrees",
    "404": "sphinx-notfound-page's page, served for any missing address",
}

# The reviewed allowlist: the official home of each tool the docs send readers to.
ALLOWED_HOSTS = {
    "docs.djangoproject.com": "Django's documentation",
    "docs.python.org": "Python's documentation",
    "pypi.org": "the Python Package Index (project pages of the packages the docs install)",
    "docs.gunicorn.org": "Gunicorn's documentation",
    "gunicorn.org": "Gunicorn's home page",
    "www.uvicorn.org": "Uvicorn's documentation",
    "docs.pylonsproject.org": "Waitress's documentation (a Pylons project)",
    "docs.celeryq.dev": "Celery's documentation",
    "django-q2.readthedocs.io": "Django-Q2's documentation",
    "whitenoise.readthedocs.io": "WhiteNoise's documentation",
    "docs.docker.com": "Docker's documentation",
    "flower.readthedocs.io": "Flower's documentation",
    "hypercorn.readthedocs.io": "Hypercorn's documentation",
    "channels.readthedocs.io": "Django Channels' documentation (Daphne's deployment guide)",
    "kubernetes.io": "Kubernetes' documentation",
    "www.freedesktop.org": "systemd's manual pages",
    "django-prodserver.readthedocs.io": "these docs, as published",
}
# On github.com only the official repositories of tools that have no documentation site.
ALLOWED_GITHUB_REPOS = {
    "emmett-framework/granian": "Granian (its documentation is its README)",
    "django/daphne": "Daphne (its documentation is its README)",
    "realorangeone/django-tasks": "Django Tasks",
    "realorangeone/django-tasks-db": "django-tasks-db, Django Tasks' database backend",
    "wg/wrk": "wrk, the load generator the benchmarks use",
}
# The reader's own server in the tutorials (``http://127.0.0.1:8000/``) is not external.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0"}

ROOT = docs_blocks.docs_root()
PAGES = [path for path in docs_blocks.doc_files() if path.suffix in {".md", ".rst"}]


def docname(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


# -- the nine headings ----------------------------------------------------------------------

BACKEND_PAGES = sorted(
    path for path in (ROOT / "backends").glob("*.md") if path.stem not in NOT_BACKEND_PAGES
)


@pytest.mark.parametrize("page", [pytest.param(p, id=docname(p)) for p in BACKEND_PAGES])
def test_backend_page_has_the_nine_headings_in_order(page: Path) -> None:
    wanted = {title.lower(): title for title in NINE_HEADINGS}
    found = [
        wanted[title.lower()]
        for _, level, title in docs_blocks.headings(page)
        if level >= 2 and title.lower() in wanted
    ]
    copies = max(1, len(found) // len(NINE_HEADINGS))
    assert found == list(NINE_HEADINGS) * copies, (
        f"{docname(page)}: the spec's headings, in order, are {', '.join(NINE_HEADINGS)}"
    )


def test_every_backend_has_a_page() -> None:
    assert {p.stem for p in BACKEND_PAGES} >= {
        "gunicorn",
        "uvicorn",
        "granian",
        "waitress",
        "celery",
        "django-tasks",
        "django-q2",
    }


# -- toctrees -------------------------------------------------------------------------------

MD_TOCTREE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{toctree\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
REST_TOCTREE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. toctree::[^\n]*\n(?P<body>(?:(?P=indent)[ \t]+[^\n]*\n|[ \t]*\n)*)",
    re.MULTILINE,
)


def toctree_entries(page: Path) -> list[tuple[str, bool]]:
    """(entry, is_glob) for every entry of every toctree on the page."""
    text = docs_blocks.read(page)
    pattern = REST_TOCTREE if docs_blocks.is_rest(page) else MD_TOCTREE
    entries = []
    for match in pattern.finditer(text):
        body = match.group("body")
        is_glob = re.search(r"^\s*:glob:", body, re.MULTILINE) is not None
        for line in body.splitlines():
            entry = line.strip()
            if not entry or entry.startswith(":") or entry.startswith("---"):
                continue
            target = re.search(r"<([^<>]+)>$", entry)
            entries.append((target.group(1) if target else entry, is_glob))
    return entries


def resolve(page: Path, entry: str) -> str:
    base = "" if entry.startswith("/") else (page.parent.relative_to(ROOT).as_posix() + "/")
    parts: list[str] = []
    for part in (base.lstrip("./") + entry.lstrip("/")).split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts).removesuffix(".md").removesuffix(".rst")


def orphan(page: Path) -> bool:
    text = docs_blocks.read(page)
    if docs_blocks.is_rest(page):
        return re.match(r"^:orphan:", text) is not None
    front = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    return front is not None and re.search(r"^orphan:\s*true", front.group(1), re.M) is not None


def test_every_page_is_in_a_toctree() -> None:
    names = {docname(page) for page in PAGES}
    listed: set[str] = set()
    dangling = []
    for page in PAGES:
        for entry, is_glob in toctree_entries(page):
            if entry == "self" or re.match(r"^https?://", entry):
                continue
            target = resolve(page, entry)
            matched = fnmatch.filter(names, target) if is_glob else [target]
            if not set(matched) <= names or not matched:
                dangling.append(f"{docname(page)}: {entry}")
            listed |= set(matched)
    assert dangling == [], "toctree entries without a page"
    exempt = set(OUTSIDE_TOCTREES) | {docname(p) for p in PAGES if orphan(p)}
    assert sorted(names - listed - exempt) == [], (
        "pages in no toctree (list them, or mark them orphan)"
    )
    assert listed, "no toctree found"


# -- external links -------------------------------------------------------------------------

URL = re.compile(r"https?://[^\s<>()\[\]\"'`\\]+")
MD_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
REST_CODE_SPAN = re.compile(r"``.+?``", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->|^%[^\n]*$", re.DOTALL | re.MULTILINE)


def rendered_text(page: Path) -> str:
    """The page with code blocks, inline code and comments blanked (offsets kept)."""
    text = docs_blocks.read(page)
    chars = list(text)
    for block in docs_blocks.blocks(page):
        for i in range(block.start, block.end):
            if chars[i] != "\n":
                chars[i] = " "
    blanked = "".join(chars)

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    span = REST_CODE_SPAN if docs_blocks.is_rest(page) else MD_CODE_SPAN
    if not docs_blocks.is_rest(page):
        blanked = COMMENT.sub(blank, blanked)
    return span.sub(blank, blanked)


def external_links() -> list[tuple[str, str]]:
    links = []
    for page in docs_blocks.doc_files():
        text = docs_blocks.read(page)
        for match in URL.finditer(rendered_text(page)):
            url = match.group(0).rstrip(".,;:!?*_")
            links.append(
                (f"{docs_blocks.rel(page)}:{docs_blocks.line_of(text, match.start())}", url)
            )
    return links


def link_problem(url: str) -> str | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in LOCAL_HOSTS:
        return None
    if parts.scheme != "https":
        return "external links use https"
    if host == "github.com":
        repo = "/".join(parts.path.strip("/").split("/")[:2]).lower()
        return (
            None if repo in ALLOWED_GITHUB_REPOS else f"github.com/{repo} is not in the allowlist"
        )
    return None if host in ALLOWED_HOSTS else f"{host} is not in the allowlist"


LINKS = external_links()


def test_external_links_point_at_official_domains() -> None:
    bad = [f"{where}: {url} ({problem})" for where, url in LINKS if (problem := link_problem(url))]
    print(f"\nexternal links checked: {len(LINKS)}")
    assert bad == [], "links to domains outside the reviewed allowlist in this file"
    assert LINKS, "no external link found: the official documentation sections link out"


def test_allowlist_rejects_other_domains() -> None:
    """The check is not vacuous: look-alike and unlisted addresses are refused."""
    assert link_problem("https://docs.djangoproject.com/en/5.2/") is None
    assert link_problem("https://github.com/emmett-framework/granian/releases") is None
    assert link_problem("https://stackoverflow.com/q/1") is not None
    assert link_problem("https://github.com/someone/granian") is not None
    assert link_problem("https://docs.djangoproject.com.example.net/") is not None
    assert link_problem("http://docs.djangoproject.com/") is not None


# -- make linkcheck -------------------------------------------------------------------------


def test_make_linkcheck_target_exists() -> None:
    makefile = (docs_blocks.ROOT / "Makefile").read_text()
    match = re.search(r"^linkcheck\s*:[^\n]*\n((?:\t[^\n]*\n?)+)", makefile, re.MULTILINE)
    assert match, "the Makefile has no linkcheck target"
    assert re.search(r"sphinx-build\b.*-b\s+linkcheck\b", match.group(1)), match.group(1)
