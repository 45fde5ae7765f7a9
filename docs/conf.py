"""Sphinx configuration for the django-prodserver documentation.

The build must work offline (CI has no network): every asset is local and there is no
intersphinx. The API reference imports the package with Django configured from the example
project, exactly as a user's ``manage.py`` would, so autodoc sees the real classes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

DOCS_DIR = Path(__file__).resolve().parent
ROOT = DOCS_DIR.parent

# The example project provides the settings; src/ makes a plain checkout importable even
# before `pip install -e .` (Read the Docs installs the package anyway).
sys.path[:0] = [str(ROOT / "example"), str(ROOT / "src")]
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"

import django  # noqa: E402  (needs the paths above)

django.setup()

from django_prodserver import __version__  # noqa: E402

# -- Project -------------------------------------------------------------------------------

project = "django-prodserver"
author = "django-prodserver developers"
copyright = "2026, django-prodserver developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

# -- General -------------------------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx_copybutton",
    "sphinx_design",
    "notfound.extension",
    "sphinx_last_updated_by_git",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -n in CI: every cross-reference must resolve.
nitpicky = True
# Without intersphinx, references to the standard library and Django cannot resolve; they
# are named in signatures only, so ignore exactly those namespaces.
nitpick_ignore_regex = [
    (r"py:(class|exc|obj|data)", r"(collections\.abc|os|argparse|typing|abc|click)\..*"),
    (r"py:(class|exc|obj)", r"django\..*"),
]

# Leave `--flag` alone: convert quotes and ellipses, never hyphens into dashes.
smartquotes_action = "qe"

# -- MyST ----------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "linkify"]
myst_heading_anchors = 3
# Only links with a scheme: otherwise `manage.py` or `mysite.wsgi` would become links.
myst_linkify_fuzzy_links = False

# -- autodoc -------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}

# -- sphinx-copybutton: copy the commands, not the `$ ` prompts or their output ------------

copybutton_prompt_text = r"\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_line_continuation_character = "\\"

# -- "Last updated" from git ---------------------------------------------------------------

html_last_updated_fmt = "%Y-%m-%d"
git_last_updated_timezone = "UTC"
# Uncommitted pages get no date (rather than a dependency's date).
git_untracked_check_dependencies = False
git_untracked_show_sourcelink = True
# A fresh shallow clone (CI, Read the Docs) or a source tarball has no full history: show no
# date for those pages instead of failing a -W build.
suppress_warnings = ["git.too_shallow", "git.subprocess_error", "git.command_not_found"]

# -- 404 page ------------------------------------------------------------------------------

# Read the Docs serves 404.html for every missing URL, so its links must be absolute: use the
# project's canonical path there and "/" for a local server.
notfound_urls_prefix = urlparse(os.environ.get("READTHEDOCS_CANONICAL_URL", "/")).path or "/"

# -- linkcheck (`make linkcheck`, needs a network) ----------------------------------------

# Addresses of the local servers the tutorials start.
linkcheck_ignore = [r"https?://(127\.0\.0\.1|localhost|0\.0\.0\.0)(:\d+)?(/.*)?$"]

# -- HTML ----------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"django-prodserver {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# A declared icon stops every browser asking for /favicon.ico (a 404 and a console error).
html_favicon = "_static/favicon.svg"
html_theme_options = {
    "navigation_with_keys": True,
}


def _public_bases(app: object, name: str, obj: type, options: object, bases: list[type]) -> None:
    """Show a private base class (e.g. the one Celery worker and beat share) as its public parent.

    The private class is not documented, so a reference to it could not resolve under -n.
    """
    for index, base in enumerate(bases):
        while base.__name__.startswith("_") and base.__bases__:
            base = base.__bases__[0]
        bases[index] = base


def _break_after_dots(app: object, doctree: object, docname: str) -> None:
    """Let long dotted names in inline code wrap after a dot, never inside a word.

    ``django_prodserver.backends.gunicorn.GunicornServer`` is wider than a phone screen; the
    CSS forbids breaking words, so the HTML gets a <wbr> (a line-break opportunity that is
    invisible and not copied) after each dot instead.
    """
    from docutils import nodes

    for literal in list(doctree.findall(nodes.literal)):  # type: ignore[attr-defined]
        text = literal.astext()
        if len(text) < 24 or "." not in text:
            continue
        pieces: list[nodes.Node] = []
        for index, part in enumerate(text.split(".")):
            if index:
                pieces += [nodes.Text("."), nodes.raw("", "<wbr>", format="html")]
            pieces.append(nodes.Text(part))
        literal.children = []
        literal.extend(pieces)


def setup(app: object) -> None:
    app.connect("autodoc-process-bases", _public_bases)  # type: ignore[attr-defined]
    app.connect("doctree-resolved", _break_after_dots)  # type: ignore[attr-defined]
