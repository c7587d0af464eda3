"""The convention that makes the README's examples tests, and the README's demo data table."""

from __future__ import annotations

import pytest

from local import demo_data
from local.backends import DEMO_ADMIN_API_KEY, DEMO_AUTH_TOKEN, VERIFICATION_PHONE
from masking.core.models import Provider
from tests.readme_examples import (
    Block,
    Command,
    ExampleError,
    Outcome,
    matches,
    problems,
    readme_text,
    runnable_blocks,
    script_for,
)
from tests.support import ROOT

FENCE = "```"


def test_dots_match_any_text_and_everything_else_is_literal() -> None:
    assert matches(('{"id": "LS...", "active": true} 201',), '{"id": "LS1f2e", "active": true} 201\n')
    assert matches(("[...]",), "[]")
    assert matches(("a...", "...z"), "a\nb\nc\nz")  # several lines
    assert not matches(('{"id": "LS...", "active": true} 201',), '{"id": "LS1f2e", "active": false} 201')
    assert not matches(("201",), "201 extra")  # the whole output is compared
    assert not matches(("a.c",), "abc")  # a regex character is literal
    assert not matches(("utilization 0.3333",), "utilization 0.0")


def test_expected_lines_belong_to_the_command_above_them() -> None:
    markdown = "\n".join(
        [
            "## Try it",
            f"{FENCE}bash",
            "KEY=k",
            "# a comment is prose",
            "curl -s http://127.0.0.1:3000/a \\",
            "  -d x=1",
            "# -> one",
            "# -> two",
            "curl -s $API/b",
            "# -> three",
            FENCE,
            f"{FENCE}bash",
            "make local    # serve the API on http://127.0.0.1:3000",
            FENCE,
        ]
    )
    [block] = runnable_blocks(markdown)  # the second block runs no curl: not an example
    assert block.heading == "Try it" and block.line == 2
    assert [(c.line, c.text, c.expected) for c in block.commands] == [
        (3, "KEY=k", ()),
        (5, "curl -s http://127.0.0.1:3000/a \\\n  -d x=1", ("one", "two")),
        (9, "curl -s $API/b", ("three",)),
    ]


def test_a_curl_without_expected_output_breaks_the_convention() -> None:
    markdown = f"{FENCE}bash\ncurl -s http://127.0.0.1:3000/_local/sent\n{FENCE}\n"
    with pytest.raises(ExampleError, match="line 2"):
        runnable_blocks(markdown)


def test_the_script_points_at_the_runner_and_outcomes_are_judged() -> None:
    command = Command(line=7, text="curl -s http://127.0.0.1:3000/x", expected=("ok ...",))
    script = script_for(Block(line=6, heading="h", commands=(command,)), "http://127.0.0.1:41234")
    assert "curl -s http://127.0.0.1:41234/x" in script and "3000" not in script

    assert problems([Outcome(command, "ok 200\n", 0)]) == []
    [wrong] = problems([Outcome(command, "not ok", 0)])
    assert wrong.startswith("README line 7:") and "not ok" in wrong
    assert problems([Outcome(command, "ok 200", 7)])[0].startswith("README line 7: exit code 7")
    silent = Command(line=9, text="KEY=k", expected=())
    assert problems([Outcome(silent, "", 0)]) == []
    assert problems([Outcome(silent, "surprise", 0)])  # output nobody checks is a failure too


def test_the_readme_has_the_quick_start_the_admin_examples_and_signing_as_examples() -> None:
    blocks = runnable_blocks(readme_text(ROOT))
    headings = [block.heading for block in blocks]
    assert headings.count("A masked exchange with curl") == 2
    assert "Admin API" in headings and "Demo data" in headings
    commands = [command for block in blocks for command in block.commands]
    assert any("/sessions" in c.text for c in commands) and any("/calls" in c.text for c in commands)


def test_the_demo_data_table_lists_everything_the_runner_seeds() -> None:
    readme = readme_text(ROOT)
    section = readme[readme.index("### Demo data") : readme.index("### The README's examples are tests")]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for party in (*demo_data.PROVIDERS, *demo_data.CLIENTS):
        [row] = [row for row in rows if row.startswith(f"| {party.name}")]
        assert f"`{party.phone}`" in row
        if isinstance(party, Provider):
            assert f"`{party.provider_id}`" in row and f"`{party.reserved_number}`" in row
        else:
            assert f"`{party.client_id}`" in row
    table = "\n".join(rows)
    seeded = [record.number for record in demo_data.demo_numbers()]  # reserved, pool, standby
    for value in (*seeded, VERIFICATION_PHONE, DEMO_AUTH_TOKEN, DEMO_ADMIN_API_KEY):
        assert f"`{value}`" in table, value
    assert "/_local/sign" in section
