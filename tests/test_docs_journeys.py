"""Every guide, followed from top to bottom in a fresh project and virtualenv (issue 11).

Each test hands one page to ``journey.Journey`` (see its docstring for how a page is read and
run), then checks what the page says happens beyond the output it shows: the curl answers,
the worker that runs the task beat scheduled, the same answers from every server. The wheel
of this checkout is built once per session; every journey makes its own virtualenv and
installs the wheel with the extras its page names. ``-s`` shows each journey's report: the
blocks executed, the steps not executed here and why, and the wall time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import docs_blocks
import journey
from journey import Journey

pytestmark = [pytest.mark.slow, pytest.mark.server]

DOCS = docs_blocks.docs_root()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return journey.build_wheel(
        tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("wheel-source")
    )


@pytest.fixture
def make_journey(wheel: Path, tmp_path: Path) -> Iterator[type[Journey]]:
    made: list[Journey] = []
    started = time.monotonic()

    def make(**kwargs: object) -> Journey:
        found = Journey(tmp_path / f"journey-{len(made)}", wheel, **kwargs)  # type: ignore[arg-type]
        made.append(found)
        return found

    try:
        yield make  # type: ignore[misc]
    finally:
        for item in made:
            item.cleanup()
            print(f"\n{item.report()}")
        print(f"journey wall time: {time.monotonic() - started:.1f} s")


def walk(session: Journey, *pages: str) -> None:
    with journey.explained(session):
        for page in pages:
            session.follow(DOCS / page)
        session.stop_all("end of the page")


# -- installation, quickstart, custom backend ----------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("tab", ["wsgi", "asgi"])
def test_installation_first_server(make_journey: type[Journey], tab: str) -> None:
    """The installation page's steps, with the WSGI or the ASGI tab of "Your First Server"."""
    session = make_journey(prefer=("pip", tab))
    walk(session, "installation.md")
    # Both "Ctrl+C" stops were clean (checked in Journey.stop), and nothing else ran.
    assert [status for _, status in session.stopped] == [0, 0]


@pytest.mark.timeout(240)
def test_quickstart_and_custom_backend(make_journey: type[Journey]) -> None:
    """The quickstart, then the custom-backend guide in its project (as that guide says)."""
    session = make_journey(prefer=("pip",))
    walk(session, "guides/quickstart.md")
    assert session.answered == ["200"], "the quickstart's curl must get 200 from its server"
    assert session.stopped == [("web", 0)]
    walk(session, "guides/custom-backend.md")
    assert session.answered == ["200", "200"], "the wsgiref server must answer 200"
    assert [status for _, status in session.stopped] == [0, 0]


# -- environment-configs --------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_environment_configs(make_journey: type[Journey]) -> None:
    """Both approaches, each with the environment variables the page exports."""
    session = make_journey(prefer=("pip",))
    walk(session, "guides/environment-configs.md")
    started = [name for name, _ in session.stopped]
    # The quickstart's web, approach 1 on staging values, approach 2 with production settings.
    assert started == ["web", "web", "web"], started
