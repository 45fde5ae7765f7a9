"""Every Python block in the documentation runs (issue 5, check 1).

sybil reads the pages (its MyST parsers for Markdown, its reST parsers for configuration.rst)
and evaluates each ```` ```python ```` / ``.. code-block:: python`` block, with Django
configured for the example project (pytest-django, ``mysite.settings``). A block that truly
cannot run carries ``% skip: next "why"`` (``.. skip: next "why"`` in reST) on the line before
it; sybil's own skip handling turns that into a pytest skip whose reason is shown by ``-rs``.

Namespaces: every block gets a fresh namespace (``__name__`` plus ``__file__`` pointing at the
example's settings module), because the docs promise that each block is complete and runs on
its own; a block that silently relied on an earlier one would fail here. Settings fragments
are plain assignments, so they run in that namespace like the body of a settings file.

Each block is one test (``test_python_block[PAGE:LINE]``). The blocks of a page are evaluated
in page order, so sybil's per-page skip state behaves as in its own pytest integration even
when a single test is selected.

The last test counts independently (a plain regex over the raw text, not sybil's lexers) the
Python blocks of each page and proves that none is neither executed nor skipped with a reason.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from unittest import SkipTest

import pytest
from sybil import Document, Example, Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers import myst, rest

import docs_blocks

MARKDOWN = Sybil(
    parsers=[myst.PythonCodeBlockParser(), myst.SkipParser()],
    patterns=[f"*{suffix}" for suffix in docs_blocks.MARKDOWN_SUFFIXES],
)
REST = Sybil(
    parsers=[rest.PythonCodeBlockParser(), rest.SkipParser()],
    patterns=[f"*{suffix}" for suffix in docs_blocks.REST_SUFFIXES],
)


def is_skip(example: Example) -> bool:
    return isinstance(example.region.evaluator, Skipper)


@dataclass
class Page:
    """One page parsed by sybil, with the outcome of each example once evaluated."""

    path: Path
    document: Document
    examples: list[Example]
    outcomes: list[BaseException | None] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, path: Path) -> Page:
        document = (REST if docs_blocks.is_rest(path) else MARKDOWN).parse(path)
        return cls(path, document, list(document.examples()))

    def outcome(self, index: int) -> BaseException | None:
        """Evaluate the examples up to ``index`` in page order; return that one's outcome."""
        while len(self.outcomes) <= index:
            example = self.examples[len(self.outcomes)]
            if not is_skip(example):
                # A fresh namespace per block (see the module docstring).
                self.document.namespace.clear()
                self.document.namespace.update(docs_blocks.fresh_namespace())
            stdout = io.StringIO()
            try:
                with contextlib.redirect_stdout(stdout), docs_blocks.process_state_kept():
                    example.evaluate()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                self.outcomes.append(exc)
            else:
                self.outcomes.append(None)
            self.output.append(stdout.getvalue())
        return self.outcomes[index]


PAGES = {path: Page.parse(path) for path in docs_blocks.doc_files()}
CASES = [
    pytest.param(page, index, id=f"{docs_blocks.rel(page.path)}:{example.line}")
    for page in PAGES.values()
    for index, example in enumerate(page.examples)
    if not is_skip(example)
]


@pytest.mark.parametrize(("page", "index"), CASES)
def test_python_block(
    page: Page, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks run in an empty directory: whatever they write stays out of the checkout.
    monkeypatch.chdir(tmp_path)
    outcome = page.outcome(index)
    example = page.examples[index]
    if isinstance(outcome, SkipTest):
        pytest.skip(f"{docs_blocks.rel(page.path)}:{example.line}: {outcome}")
    if outcome is not None:
        pytest.fail(failure(page.path, example.line, outcome), pytrace=False)


def failure(path: Path, line: int, exc: BaseException) -> str:
    """The block's own lines in the traceback, then the innermost frame and the error.

    (pytest's default report would print the whole page as the "function" source.)
    """
    frames = traceback.extract_tb(exc.__traceback__)
    shown = [frame for frame in frames if frame.filename == str(path)]
    if frames and frames[-1] not in shown:
        shown.append(frames[-1])
    return (
        f"{docs_blocks.rel(path)}:{line}: the Python block raised an exception\n"
        + "".join(traceback.format_list(shown))
        + "".join(traceback.format_exception_only(type(exc), exc))
    )


def test_every_python_block_is_executed_or_skipped_with_a_reason() -> None:
    """Count the Python blocks without sybil and match each to an executed or skipped test."""
    problems: list[str] = []
    executed, skipped, total = 0, [], 0
    for path, page in PAGES.items():
        where = docs_blocks.rel(path)
        raw = docs_blocks.raw_python_block_lines(path)
        total += len(raw)
        blocks = [b for b in docs_blocks.blocks(path) if b.is_python]
        if [b.line for b in blocks] != raw:
            problems.append(
                f"{where}: Python blocks at lines {raw}, lexed at {[b.line for b in blocks]}"
            )
        text = docs_blocks.read(path)
        marked = set()
        for mark in docs_blocks.skip_marks(path):
            after = [b for b in docs_blocks.blocks(path) if b.start >= mark.end]
            directly = bool(after) and not text[mark.end : after[0].start].strip()
            if directly:
                marked.add(after[0].start)
            if mark.action != "next" or not mark.reason:
                problems.append(
                    f'{where}:{mark.line}: write the mark as skip: next "why it cannot run"'
                )
            elif not directly or not after[0].is_python:
                problems.append(
                    f"{where}:{mark.line}: a skip mark must come right before a python block"
                )
        examples = [(i, e) for i, e in enumerate(page.examples) if not is_skip(e)]
        for block in blocks:
            if block.start in marked and not block.skip:
                continue  # a mark without a reason: reported above, and not executed
            inside = [i for i, e in examples if block.start <= e.start < block.end]
            if not inside:
                problems.append(f"{block.where}: sybil found no example in this Python block")
                continue
            outcomes = [page.outcome(i) for i in inside]
            if block.skip:
                if all(isinstance(o, SkipTest) and str(o) == block.skip for o in outcomes):
                    skipped.append(f"{block.where}: {block.skip}")
                else:
                    problems.append(f"{block.where}: marked skip but sybil did not skip it")
            elif all(o is None for o in outcomes):
                executed += 1
            elif any(isinstance(o, SkipTest) for o in outcomes):
                problems.append(f"{block.where}: skipped without a reason on the line before it")
            # A block that ran and failed is reported by its own test_python_block.
    print(
        f"\nPython blocks in the docs: {total}; executed without error: {executed}; "
        f"skipped with a reason: {len(skipped)}"
    )
    for line in skipped:
        print(f"  skipped {line}")
    assert total > 0, "no Python block found: is the docs root right?"
    assert problems == [], "Python blocks neither executed nor skipped with a reason"
