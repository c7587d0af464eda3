"""The README's command examples, as something a test can run and check.

The convention (the README's "Local runner" section states it for readers):

- A fenced ``bash`` block is a *runnable example* when one of its commands runs ``curl``
  against the local runner (``http://127.0.0.1:3000``, or ``$API`` set to it).
- A command is a line plus its ``\\`` continuation lines. Other comment lines are prose.
- The ``# ->`` lines right below a command are what it prints, one ``# ->`` line per
  printed line. ``...`` stands for any text (none, or several lines); everything else must
  be printed exactly. The whole output is compared, trailing white space aside.
- Every ``curl`` command has ``# ->`` lines, and a command without them must print nothing
  (``KEY=...``), so no output goes unchecked. Every command must exit 0.

The blocks run in README order against one fresh runner, each in its own ``bash``, as a
reader pastes them into a terminal; ``http://127.0.0.1:3000`` in a command becomes the
runner's URL. (pytest-codeblocks and mktestdocs check exit codes or exact output blocks,
and byexample wants ``$`` prompts; none reads ``# ->`` lines with ``...``, hence this file.)
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOCAL_URL = "http://127.0.0.1:3000"
EXPECT = "# ->"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
_TALKS_TO_RUNNER = re.compile(r"\bcurl\b.*(?:" + re.escape(LOCAL_URL) + r"|\$\{?API\b)", re.S)
_MARK = "@@readme-example"


class ExampleError(ValueError):
    """The README breaks the convention (not a failed run: that is an AssertionError)."""


@dataclass(frozen=True)
class Command:
    line: int  # 1-based line of the README where the command starts
    text: str
    expected: tuple[str, ...]

    @property
    def runs_curl(self) -> bool:
        return re.search(r"(^|[\s;&|(])curl\s", self.text) is not None


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    heading: str
    commands: tuple[Command, ...]


@dataclass(frozen=True)
class Outcome:
    command: Command
    output: str
    exit_code: int


def fenced_blocks(markdown: str) -> list[tuple[int, str, str, list[str]]]:
    """(line of the opening fence, info string, nearest heading, body lines) of every fenced block."""
    found: list[tuple[int, str, str, list[str]]] = []
    lines = markdown.splitlines()
    heading = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        opening = _FENCE.match(line)
        if opening is None:
            index += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.fullmatch(r"[ \t]*" + fence + r"`*[ \t]*", lines[index]):
            text = lines[index]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            index += 1
        opened_at = index - len(body)  # 1-based line of the opening fence
        if index >= len(lines):
            raise ExampleError(f"README line {opened_at}: a fenced block is never closed")
        found.append((opened_at, opening.group("info").strip(), heading, body))
        index += 1
    return found


def parse_block(first_line: int, heading: str, body: list[str]) -> Block:
    """Splits a block into commands, each with the ``# ->`` lines below it."""
    commands: list[Command] = []
    current: list[str] = []
    start = 0
    expected: list[str] = []

    def close() -> None:
        if current:
            commands.append(Command(line=start, text="\n".join(current), expected=tuple(expected)))

    number = first_line
    continued = False
    for number, line in enumerate(body, start=first_line + 1):
        stripped = line.strip()
        if continued:
            current.append(line)
            continued = line.rstrip().endswith("\\")
            continue
        if stripped.startswith(EXPECT):
            if not current:
                raise ExampleError(f"README line {number}: '{EXPECT}' with no command above it")
            expected.append(stripped[len(EXPECT) :].removeprefix(" "))
            continue
        if not stripped or stripped.startswith("#"):
            continue
        close()
        current, expected, start = [line], [], number
        continued = line.rstrip().endswith("\\")
    if continued:
        raise ExampleError(f"README line {number}: the block ends inside a continued command")
    close()
    return Block(line=first_line, heading=heading, commands=tuple(commands))


def runnable_blocks(markdown: str) -> list[Block]:
    """The README's runnable examples, in order; raises ExampleError on a broken convention."""
    blocks: list[Block] = []
    for line, info, heading, body in fenced_blocks(markdown):
        if info.split(" ")[0] not in ("bash", "sh", "shell", "console"):
            continue
        block = parse_block(line, heading, body)
        if not any(_TALKS_TO_RUNNER.search(command.text) for command in block.commands):
            continue
        for command in block.commands:
            if command.runs_curl and not command.expected:
                raise ExampleError(f"README line {command.line}: a curl command without '{EXPECT}' lines under it")
        blocks.append(block)
    return blocks


def pattern(expected: tuple[str, ...]) -> re.Pattern[str]:
    """``# ->`` lines as a regex: ``...`` is any text, everything else literal."""
    literal = "\n".join(expected).rstrip()
    return re.compile(".*?".join(re.escape(part) for part in literal.split("...")), re.S)


def matches(expected: tuple[str, ...], output: str) -> bool:
    cleaned = "\n".join(line.rstrip() for line in output.replace("\r\n", "\n").strip("\n").split("\n")).rstrip()
    return pattern(expected).fullmatch(cleaned) is not None


def script_for(block: Block, base_url: str) -> str:
    """The block as one bash script, with a marker line before and after every command."""
    parts = ["set -u"]
    for index, command in enumerate(block.commands):
        parts.append(f"printf '\\n{_MARK} start {index}\\n'")
        parts.append(command.text.replace(LOCAL_URL, base_url))
        parts.append(f"printf '\\n{_MARK} end {index} %s\\n' \"$?\"")
    return "\n".join(parts) + "\n"


def run_block(block: Block, base_url: str, *, timeout: float = 120) -> list[Outcome]:
    """Runs the block in a fresh bash; returns what each command printed and its exit code."""
    completed = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input=script_for(block, base_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcomes: list[Outcome] = []
    pieces = re.split(rf"\n?{_MARK} (start|end) (\d+)(?: (\d+))?\n", "\n" + completed.stdout)
    # pieces: [before, kind, index, code, text, kind, index, code, text, ...]
    outputs: dict[int, str] = {}
    codes: dict[int, int] = {}
    for at in range(1, len(pieces) - 3, 4):
        kind, index, code, text = pieces[at], int(pieces[at + 1]), pieces[at + 2], pieces[at + 3]
        if kind == "start":
            outputs[index] = text
        elif code is not None:
            codes[index] = int(code)
    for index, command in enumerate(block.commands):
        if index not in codes:
            raise AssertionError(
                f"README line {command.line}: the block stopped before this command finished\n"
                f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
            )
        outcomes.append(Outcome(command=command, output=outputs.get(index, ""), exit_code=codes[index]))
    return outcomes


def problems(outcomes: list[Outcome]) -> list[str]:
    """What the README promised and the commands did not print (empty: all as documented)."""
    found: list[str] = []
    for outcome in outcomes:
        command = outcome.command
        if outcome.exit_code != 0:
            found.append(f"README line {command.line}: exit code {outcome.exit_code}\n  $ {command.text}\n  printed: {outcome.output!r}")
        elif command.expected and not matches(command.expected, outcome.output):
            shown = "\n".join(f"  # -> {line}" for line in command.expected)
            found.append(f"README line {command.line}:\n  $ {command.text}\n{shown}\n  printed:\n  {outcome.output.strip()}")
        elif not command.expected and outcome.output.strip():
            found.append(
                f"README line {command.line}: printed output the README does not show\n  $ {command.text}\n  {outcome.output.strip()}"
            )
    return found


def readme_text(root: Path) -> str:
    return (root / "README.md").read_text(encoding="utf-8")
