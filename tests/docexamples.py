"""The console examples of README.md and docs/, read out of their Markdown and run.

A fenced block marked `console` is an example: each line starting with `$ tuner` is a command, the lines under it
are what it prints. A block whose info string names a file (```yaml title="studies/bad.yaml"```) is that file: it
is written into the scratch folder before the commands after it run (a file the repository ships, under studies/,
must be shown as it is). The blocks of one page run in order in one scratch folder, holding a copy of studies/ and
the store (TUNER_STORAGE), so `tuner best` after `tuner start` reads the study the page started.

Shown output is compared line by line after masking what changes from run to run: decimal numbers (scores,
seconds), clock times, the length of rich's rules and the spaces that pad a table's columns. Whole numbers (counts,
trial numbers, rows, parameters), words, column names and messages must be as shown. A line `...` stands for any
lines (none included), `...` inside a line for any text; without them a block shows the command's whole output.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
WIDTH = 100  # the terminal width the shown output was printed at (rich wraps its tables to it)

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
TITLE = re.compile(r'title="(?P<path>[^"]+)"')
PROMPT = "$ "

DECIMAL = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)|(?<![\w.])[-+]?(?:\d+\.\d+|\.\d+)")
CLOCK = re.compile(r"\b\d+:\d\d:\d\d\b")
RULE = re.compile(r"([━─═]){2,}")
SPACES = re.compile(r"\s+")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Command:
    """One `$ tuner ...` line of a console block and the output shown under it."""

    line: str
    lineno: int
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    page: Path
    lineno: int  # of the opening fence
    info: str
    text: str

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def title(self) -> str | None:
        found = TITLE.search(self.info)
        return found["path"] if found else None

    @property
    def where(self) -> str:
        return f"{shown_path(self.page)}:{self.lineno}"

    def commands(self) -> list[Command]:
        """The block's commands, each with the lines shown under it."""
        found: list[Command] = []
        for offset, line in enumerate(self.text.splitlines(), start=1):
            if line.startswith(PROMPT):
                found.append(Command(line[len(PROMPT):], self.lineno + offset))
            elif found:
                found[-1].shown.append(line)
            elif line.strip():
                raise ValueError(f"{self.where}: a console block starts with its first `$ ` command, not {line!r}")
        return found


def shown_path(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a Markdown page, in order."""
    found: list[Block] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, body = opening["fence"], []
        start = index
        index += 1
        while index < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$",
                                                    lines[index]):
            body.append(lines[index][len(opening["indent"]):] if lines[index].startswith(opening["indent"])
                        else lines[index])
            index += 1
        found.append(Block(page, start + 1, opening["info"].strip(), "\n".join(body)))
        index += 1
    return found


def examples(page: Path) -> list[Block]:
    """The blocks of a page the runner acts on: console blocks and files with a title, in order."""
    return [b for b in blocks(page) if b.lang == "console" or b.title]


def unrun_prompts(page: Path) -> list[str]:
    """Places where a page shows a `$ tuner` prompt the runner would not run: every such line must be in a block
    fenced `console` (then it runs) or drop its prompt (then it is text)."""
    wrong, run = [], set()
    for block in blocks(page):
        if block.lang != "console":
            continue
        for command in block.commands():
            run.add(command.lineno)
            if not command.line.startswith("tuner "):
                wrong.append(f"{shown_path(page)}:{command.lineno}: `{command.line}` is not a tuner command; the "
                             f"runner runs only those")
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.lstrip().startswith(PROMPT + "tuner") and number not in run:
            wrong.append(f"{shown_path(page)}:{number}: `{line.strip()}` is not in a console block, so it is not "
                         f"run; fence its block as console to have it run, or drop the `$ ` prompt")
    return wrong


def mask(line: str) -> str:
    """A printed line without what may differ between two runs of the same command."""
    line = ANSI.sub("", line)
    line = CLOCK.sub("T", line)
    line = DECIMAL.sub("F", line)
    line = RULE.sub(r"\1", line)
    return SPACES.sub(" ", line).strip()


def pattern(shown: list[str]) -> re.Pattern[str]:
    """The shown lines as one pattern over the masked output, one line a line; `...` stands for any lines (as a
    line of its own) or any text (inside a line)."""
    parts = []
    for line in (mask(s) for s in shown):
        if not line:
            continue
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.compile("".join(parts))


def masked_output(output: str) -> str:
    return "".join(m + "\n" for m in (mask(line) for line in output.splitlines()) if m)


def mismatch(shown: list[str], output: str) -> str | None:
    """None when the output is what the shown lines say, else a diff of the two, masked."""
    if not any(s.strip() for s in shown):
        return None
    if pattern(shown).fullmatch(masked_output(output)):
        return None
    expected = [m for m in (mask(s) for s in shown) if m]
    return "\n".join(difflib.unified_diff(expected, masked_output(output).splitlines(), "shown", "printed",
                                          lineterm="", n=2))


@dataclass
class Ran:
    command: Command
    where: str
    returncode: int
    output: str
    seconds: float


def scratch_folder(folder: Path) -> dict[str, str]:
    """A working folder like the repository's root (its studies/ copied in) and the environment commands run in:
    the store (tuner.db, named as the default is) and the artifacts inside it, the shown output's width."""
    shutil.copytree(ROOT / "studies", folder / "studies", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("TUNER_") and key not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env.update(TUNER_STORAGE="sqlite:///tuner.db", COLUMNS=str(WIDTH), LINES="50", TF_CPP_MIN_LOG_LEVEL="3")
    return env


def run_page(page: Path, folder: Path, timeout: float = 300) -> list[Ran]:
    """Every example of the page, in order, in `folder`."""
    env = scratch_folder(folder)
    ran: list[Ran] = []
    written: set[Path] = set()
    for block in examples(page):
        if block.title:
            target = (folder / block.title).resolve()
            if folder.resolve() not in target.parents:
                raise ValueError(f"{block.where}: title {block.title!r} is outside the working folder")
            if target.exists() and target not in written and target.read_text() != block.text + "\n":
                raise ValueError(f"{block.where}: {block.title} is not the file the repository ships; show it "
                                 f"as it is, or drop the title to show a part of it")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text + "\n")
            written.add(target)
        if block.lang != "console":
            continue
        for command in block.commands():
            args = shlex.split(command.line, comments=True)
            began = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "tuner", *args[1:]], cwd=folder, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=timeout)
            ran.append(Ran(command, f"{shown_path(page)}:{command.lineno}", done.returncode, done.stdout,
                           time.monotonic() - began))
    return ran


def problems(ran: list[Ran]) -> list[str]:
    """What differs between the page and its commands: an exit code (2 where the page shows an `error:`, else 0),
    or the output."""
    found = []
    for r in ran:
        fails = any(mask(s).startswith("error:") for s in r.command.shown)
        if (r.returncode != 0) != fails or (fails and r.returncode != 2):
            found.append(f"{r.where}: `{r.command.line}` exited {r.returncode} (expected {2 if fails else 0}):\n"
                         f"{r.output}")
            continue
        diff = mismatch(r.command.shown, r.output)
        if diff:
            found.append(f"{r.where}: `{r.command.line}` printed something else than the page shows "
                         f"(masked):\n{diff}")
    return found


def main(argv: list[str]) -> int:
    """`python -m tests.docexamples [PAGE...]`: run the pages' examples and print what each command printed where
    it differs from the page (or the page shows nothing), to paste into it; keep the `...` where the page elides."""
    import tempfile

    status = 0
    for name in argv or [str(p) for p in PAGES]:
        page = Path(name).resolve()
        with tempfile.TemporaryDirectory(prefix="tuner-examples-") as folder:
            for r in run_page(page, Path(folder)):
                wrong = problems([r])
                print(f"{'DIFFERS' if wrong else 'same'} {r.where} ({r.seconds:.1f} s, exit {r.returncode})")
                status = status or int(bool(wrong))
                if wrong or not any(line.strip() for line in r.command.shown):
                    print(f"$ {r.command.line}\n{r.output.rstrip()}\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
