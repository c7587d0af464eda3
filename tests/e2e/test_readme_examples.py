"""The README's examples, run as a reader runs them: every runnable block against a fresh runner.

A block is runnable when it curls the local runner; each ``# ->`` line is checked against
what the command printed (the convention: ``tests/readme_examples.py`` and the README's
Local runner section). The runner is told that its public URL is ``http://127.0.0.1:3000``,
so the X-Twilio-Signature values printed in the README, which are signed for that URL, are
checked exactly as they are written, on whatever free port the runner got.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ROOT, local_runner
from tests.readme_examples import LOCAL_URL, problems, readme_text, run_block, runnable_blocks

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def readme_runner_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_runner(tmp_path_factory.mktemp("readme-runner"), "--public-base-url", LOCAL_URL) as base_url:
        yield base_url


def test_every_readme_example_prints_what_the_readme_says(readme_runner_url: str) -> None:
    assert shutil.which("bash") and shutil.which("curl"), "the README's examples need bash and curl"
    blocks = runnable_blocks(readme_text(ROOT))
    headings = [block.heading for block in blocks]
    assert len(blocks) >= 3, headings  # the two steps of the quick start and the admin API examples
    assert sum(command.runs_curl for block in blocks for command in block.commands) >= 15

    found: list[str] = []
    for block in blocks:  # in README order, on one runner, as a reader goes through them
        found += problems(run_block(block, readme_runner_url))

    assert not found, "the README's examples no longer print what it says:\n\n" + "\n\n".join(found)
