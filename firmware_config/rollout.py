"""A staged roll-out of a profile version: a first wave (a share of the targets, or a named list), then the rest in
waves, stopping by itself once a set number of devices failed. Plain Python over an `apply` callable, so the same
logic drives MQTT `config.apply` commands to stations or simulated devices in a benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class RolloutReport:
    applied: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # target -> why
    not_attempted: list[str] = field(default_factory=list)
    stopped: bool = False
    cancelled: bool = False  # `proceed()` said no before a wave: that wave and the later ones were never asked
    waves: int = 0


def plan_waves(targets: Sequence[str], first: float | Sequence[str], wave_size: int) -> list[list[str]]:
    """The first wave (share of targets, or the listed ones), then the remaining targets in waves of `wave_size`."""
    if isinstance(first, (int, float)):
        if not 0 < first <= 1:
            raise ValueError(f"first wave share {first}: expected more than 0 and at most 1")
        head = list(targets[: max(1, math.ceil(len(targets) * first))])
    else:
        unknown = [t for t in first if t not in targets]
        if unknown:
            raise ValueError(f"first wave names unknown targets: {', '.join(unknown)}")
        head = list(first)
    rest = [t for t in targets if t not in head]
    return [head] + [rest[i : i + wave_size] for i in range(0, len(rest), max(1, wave_size))]


def run_rollout(
    targets: Sequence[str],
    apply: Callable[[str], tuple[bool, str]],
    failure_bound: int,
    first: float | Sequence[str] = 0.1,
    wave_size: int = 50,
) -> RolloutReport:
    """Apply to each target wave by wave; stop before the next target once `failure_bound` targets failed."""
    if failure_bound < 1:
        raise ValueError("failure_bound must be at least 1")
    report = RolloutReport()
    waves = plan_waves(targets, first, wave_size)
    for index, wave in enumerate(waves):
        report.waves += 1
        for pos, target in enumerate(wave):
            ok, why = apply(target)
            if ok:
                report.applied.append(target)
            else:
                report.failed[target] = why
            if len(report.failed) >= failure_bound:
                report.stopped = True
                report.not_attempted = list(wave[pos + 1 :]) + [t for w in waves[index + 1 :] for t in w]
                return report
    return report


def run_rollout_waves(
    targets: Sequence[str],
    start: Callable[[list[str]], None],
    outcomes: Callable[[list[str]], dict[str, tuple[bool, str]]],
    failure_bound: int,
    first: float | Sequence[str] = 0.1,
    wave_size: int = 50,
    proceed: Callable[[], bool] = lambda: True,
    waves: Sequence[Sequence[str]] | None = None,
) -> RolloutReport:
    """The same staging with each wave in flight at once (`start(wave)`, then `outcomes(wave)` waits for every
    device's answer): a fleet is not rolled device by device. The bound is checked after each wave, so devices of
    a wave already asked finish (AWS IoT Jobs' abort works the same); no later wave starts once it is reached, nor
    once `proceed()` answers False (a cancel). `waves` given (a resumed roll-out's waves not yet done) replaces the
    planning from `targets`, `first` and `wave_size`."""
    if failure_bound < 1:
        raise ValueError("failure_bound must be at least 1")
    report = RolloutReport()
    planned = [list(w) for w in waves] if waves is not None else plan_waves(targets, first, wave_size)
    for index, wave in enumerate(planned):
        if not proceed():
            report.cancelled = True
            report.not_attempted = [t for w in planned[index:] for t in w]
            return report
        report.waves += 1
        start(wave)
        answers = outcomes(wave)
        for target in wave:
            ok, why = answers.get(target, (False, "no answer"))
            if ok:
                report.applied.append(target)
            else:
                report.failed[target] = why
        if len(report.failed) >= failure_bound:
            report.stopped = True
            report.not_attempted = [t for w in planned[index + 1 :] for t in w]
            return report
    return report
