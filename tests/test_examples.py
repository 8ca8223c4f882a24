"""Every console example of README.md and docs/ runs, and prints what the page shows (tests/docexamples.py says how
the output is compared). The pages run two at a time, each in a scratch folder with its own store."""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.docexamples import PAGES, ROOT, Block, examples, mismatch, problems, run_page, unrun_prompts

RUNNABLE = [page for page in PAGES if any(b.lang == "console" for b in examples(page))]


def cost(page: Path) -> int:
    """A page's runtime, roughly: 3 for a command that trains, 1 for one that may import TensorFlow."""
    def weight(command) -> int:
        if any("error:" in line for line in command.shown):
            return 0
        return 3 * command.line.startswith(("tuner start", "tuner export")) + command.line.startswith(
            ("tuner validate", "tuner worker"))

    return sum(weight(c) for b in examples(page) if b.lang == "console" for c in b.commands())


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest):
    """page -> the future of its run; the pages this session selected are queued at once and run two at a time,
    the longest first."""
    selected = {item.callspec.params["page"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_page_examples_print_what_the_page_shows"}
    with tempfile.TemporaryDirectory(prefix="tuner-examples-") as scratch, ThreadPoolExecutor(2) as pool:
        futures: dict[Path, Future] = {}
        for index, page in enumerate(sorted(selected, key=cost, reverse=True)):
            folder = Path(scratch) / f"{index}-{page.stem}"
            folder.mkdir()
            futures[page] = pool.submit(run_page, page, folder)
        yield futures
        pool.shutdown(cancel_futures=True)


def test_every_tuner_prompt_is_run() -> None:
    wrong = [w for page in PAGES for w in unrun_prompts(page)]
    assert not wrong, "\n".join(wrong)


def test_the_readme_and_the_docs_have_examples_to_run() -> None:
    names = {page.relative_to(ROOT).as_posix() for page in RUNNABLE}
    assert {"README.md", "docs/getting-started.md", "docs/errors.md"} <= names, names


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=[p.relative_to(ROOT).as_posix() for p in RUNNABLE])
def test_page_examples_print_what_the_page_shows(page: Path, runs) -> None:
    ran = runs[page].result()
    assert ran, f"{page}: no command ran"
    found = problems(ran)
    assert not found, "\n\n".join(found)


def block(text: str) -> Block:
    return Block(ROOT / "README.md", 1, "console", text)


PRINTED = """\
digits: 3 complete, 0 pruned, 0 failed (3 counted toward the budget) in 5.8s
best val_accuracy 0.9778 (trial 2): 2 layer(s) [324, 213], 92425 parameters, 30 epochs
┏━━━━━━━━━┳━━━━━━━┳━━━━━━━━┓
┃ layer   ┃ units ┃ L2        ┃
┡━━━━━━━━━╇━━━━━━━╇━━━━━━━━┩
│ dense_0 │ 324   │ 8.264e-05 │
└─────────┴───────┴────────┘
best model: digits-best-trial-2.keras (trial 2) kept as /tmp/x/artifacts/71cbe59c-06b7; download it
"""


@pytest.mark.parametrize("shown, agrees", [
    (PRINTED, True),
    # other scores, seconds, L2 and rule lengths: the same
    (PRINTED.replace("5.8s", "12.1s").replace("0.9778", "0.95").replace("8.264e-05", "1e-3")
     .replace("━━━━━━━━━┳", "━━━━┳"), True),
    # elided lines and text
    ("digits: 3 complete, 0 pruned, 0 failed (3 counted toward the budget) in 5.8s\n...\n"
     "best model: ... kept as ...; download it\n", True),
    ("...\n│ dense_0 │ 324 │ 1e-05 │\n...\n", True),
    # a count, a column name, a message or a line changed, or a line missing: not the same
    (PRINTED.replace("0 pruned", "1 pruned"), False),
    (PRINTED.replace("┃ units ┃", "┃ width ┃"), False),
    (PRINTED.replace("counted toward", "counting toward"), False),
    (PRINTED.replace("[324, 213]", "[324]"), False),
    ("\n".join(PRINTED.splitlines()[1:]), False),
    ("...\n│ dense_1 │ 324 │ 1e-05 │\n...\n", False),
])
def test_the_comparison_masks_scores_and_times_but_not_counts_or_words(shown: str, agrees: bool) -> None:
    lines = block("$ tuner start digits\n" + shown).commands()[0].shown
    assert (mismatch(lines, PRINTED) is None) == agrees


def test_a_prompt_outside_a_console_block_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```bash\n$ tuner start digits\n```\n\n```console\n$ ls\n```\n\n```bash\ntuner list\n```\n\n"
                    "- a list item\n\n        $ tuner best digits\n")
    wrong = unrun_prompts(page)
    assert len(wrong) == 3, wrong
    assert "not a tuner command" in wrong[0] and ":2:" in wrong[1] and ":15:" in wrong[2], wrong
