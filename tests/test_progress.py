"""One progress switch: bars follow --quiet / TTY, and a bar never disturbs what it iterates."""
from __future__ import annotations

import pytest

from auengine import progress


class CountingIterable:
    def __init__(self):
        self.iterations = 0

    def __iter__(self):
        self.iterations += 1
        return iter(range(3))

    def __len__(self):
        return 3


@pytest.mark.parametrize("shown", [True, False, None])
def test_bar_iterates_its_iterable_once(shown):
    """tqdm.auto would call iter() twice: a shuffled DataLoader would then draw another seed."""
    items = CountingIterable()
    assert list(progress.bar(items, desc="x", progress=shown)) == [0, 1, 2] and items.iterations == 1


def test_quiet_silences_bars_and_stage_lines(capsys):
    assert progress.bars_disabled(None) is None and progress.bars_disabled(False) is True
    try:
        progress.set_quiet(True)
        assert progress.bars_disabled(None) is True
        progress.stage("hidden")
    finally:
        progress.set_quiet(False)
    progress.stage("shown")
    assert capsys.readouterr().err == "auengine: shown\n"
