"""Progress for people: the numbers (percent, stage, time left) and how they are shown."""

from __future__ import annotations

import io

import pytest

from artshade.progress import Estimate, ProgressPrinter, duration, eta_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_left_follows_the_pace_so_far() -> None:
    assert eta_seconds(10.0, 0.01) is None, "too early to tell"
    assert eta_seconds(10.0, 0.25) == 30.0
    assert eta_seconds(10.0, 1.0) == 0.0
    assert [duration(s) for s in (7, 65, 3720)] == ["7s", "1m05s", "1h02m"]


def test_estimate_never_goes_back_and_ends_without_a_guess() -> None:
    clock = Clock()
    est = Estimate(clock)
    est.update(0.4, "optimising")
    clock.now += 8
    est.update(0.3, "optimising")  # a late, lower report does not move it back
    assert (est.percent, est.stage) == (40, "optimising") and est.eta == pytest.approx(12.0)
    assert est.line() == " 40% optimising, 8s elapsed, about 12s left"
    est.update(1.0, "done")
    assert est.eta is None and est.line() == "100% done, 8s elapsed"


def test_plain_lines_at_each_stage_and_every_few_seconds_when_not_a_terminal() -> None:
    clock, out = Clock(), io.StringIO()
    show = ProgressPrinter("shading art.jpg", out, every=5, tty=False, clock=clock)
    for dt, fraction, stage in [(0, 0.0, "loading"), (1, 0.05, "target"), (1, 0.2, "optimising"),
                                (1, 0.3, "optimising"), (1, 0.35, "optimising"), (3.5, 0.5, "optimising"),
                                (2, 1.0, "done")]:  # fmt: skip
        clock.now += dt
        show(fraction, stage)
    show.close()
    assert out.getvalue().splitlines() == [
        "shading art.jpg:   0% loading, 0s elapsed",
        "shading art.jpg:   5% target, 1s elapsed, about 19s left",
        "shading art.jpg:  20% optimising, 2s elapsed, about 8s left",
        "shading art.jpg:  50% optimising, 8s elapsed, about 8s left",  # 5 s after the last line
        "shading art.jpg: 100% done, 10s elapsed",
    ]


def test_a_bar_on_a_terminal_and_nothing_when_disabled() -> None:
    out = io.StringIO()
    with ProgressPrinter("shading art.jpg", out, tty=True) as show:
        show(0.42, "optimising")
    assert "42%|" in out.getvalue() and "optimising" in out.getvalue()
    quiet = io.StringIO()
    with ProgressPrinter("shading art.jpg", quiet, enabled=False) as show:
        show(0.5, "optimising")
    assert quiet.getvalue() == "" and show.estimate.percent == 50
