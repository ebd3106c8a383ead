"""Progress of long work: named steps and counts, shown by whatever display the entry point put.

Pipelines mark their steps (`with steps("train", 9) as stage: with stage("fit"): ...`) and loops
count (`task.advance()`); they never print. The entry point installs a display for the command
(`installed`): a live bar on a terminal, plain periodic log lines otherwise (cron, CI), nothing
in quiet mode. Without one, marking a step only names it in the log context.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from payrisk.core.logs import current_command, current_step, step_context

log = logging.getLogger("payrisk.progress")
PLAIN_INTERVAL_SECONDS = 15.0


@dataclass
class Task:
    """One step in progress: `done` of `total` (None: a step that is not counted)."""

    name: str
    total: int | None
    display: Display
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    command: str = "-"
    step: str = "-"

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.display.update(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def left(self) -> float | None:
        """Seconds left at the pace so far; None before the first count or when not counted."""
        if not self.total or self.done <= 0:
            return None
        return self.elapsed / self.done * max(self.total - self.done, 0)


class Display:
    """Shows nothing (quiet mode, libraries, tests); the other displays override it."""

    def start(self, task: Task) -> None:
        """A step began."""

    def update(self, task: Task) -> None:
        """A step counted some of its work."""

    def finish(self, task: Task) -> None:
        """A step ended (well or not)."""

    def close(self) -> None:
        """The command ended."""

    def say(self, text: str, write: Callable[[str], None]) -> None:
        """A line of the command's own output (`write` puts it on stdout), printed while steps
        may be shown."""
        write(text)


QUIET = Display()
_display: ContextVar[Display | None] = ContextVar("payrisk_progress", default=None)


@contextmanager
def installed(display: Display) -> Iterator[Display]:
    """`display` shows every step of the block (the command)."""
    token = _display.set(display)
    try:
        yield display
    finally:
        _display.reset(token)
        display.close()


def say(text: str, write: Callable[[str], None]) -> None:
    """Print a line of the command's output without breaking the progress display."""
    (_display.get() or QUIET).say(text, write)


@contextmanager
def step(name: str, total: int | None = None) -> Iterator[Task]:
    """A named piece of work: shown while it runs, and named on every log line it writes."""
    display = _display.get() or QUIET
    with step_context(name):
        task = Task(name, total, display, command=current_command(), step=current_step())
        display.start(task)
        try:
            yield task
        finally:
            display.finish(task)


@contextmanager
def steps(name: str, count: int) -> Iterator[Callable[[str], object]]:
    """A step made of `count` named sub-steps, counted as each ends: yields `stage(name)`, a
    context manager for each sub-step."""
    with step(name, total=count) as outer:

        @contextmanager
        def stage(sub: str) -> Iterator[Task]:
            with step(sub) as inner:
                yield inner
            outer.advance()

        yield stage


def duration(seconds: float) -> str:
    """4 s, 2 min 05 s, 1 h 03 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def describe(task: Task) -> str:
    """`fit: 3/9 (33%), 45 s elapsed, about 1 min 30 s left` (as much as is known)."""
    parts = [task.name]
    if task.total:
        share = task.done / task.total
        parts.append(f": {task.done:,}/{task.total:,} ({share:.0%})")
    parts.append(f", {duration(task.elapsed)} elapsed")
    if task.left is not None and task.done < (task.total or 0):
        parts.append(f", about {duration(task.left)} left")
    return "".join(parts)


class PlainDisplay(Display):
    """Log lines for output that is not a terminal: each step's start and end, and every
    `interval` seconds the steps still running (so a cron log shows a run is alive)."""

    def __init__(self, interval: float = PLAIN_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.running: list[Task] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="payrisk-progress", daemon=True)
        self.thread.start()

    def _log(self, task: Task, message: str) -> None:
        log.info(message, extra={"command": task.command, "step": task.step})

    def start(self, task: Task) -> None:
        with self.lock:
            self.running.append(task)
        self._log(task, f"{task.name}: started" + (f" ({task.total:,})" if task.total else ""))

    def finish(self, task: Task) -> None:
        with self.lock:
            if task in self.running:
                self.running.remove(task)
        self._log(task, f"{task.name}: ended after {duration(task.elapsed)}")

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                running = list(self.running)
            for task in running:
                self._log(task, describe(task))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


class TerminalDisplay(Display):
    """A live rich progress display on stderr: one line per step in progress with its bar,
    counts, time elapsed and time left; log lines print above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
            redirect_stdout=False,  # the command's output stays on stdout (see `say`)
        )
        self.ids: dict[int, int] = {}

    def start(self, task: Task) -> None:
        if not self.ids:  # the first step of a run of steps: the display appears
            self.progress.start()
        indent = "  " * task.step.count("/")
        self.ids[id(task)] = self.progress.add_task(f"{indent}{task.name}", total=task.total)

    def update(self, task: Task) -> None:
        self.progress.update(self.ids[id(task)], completed=task.done)

    def finish(self, task: Task) -> None:
        task_id = self.ids.pop(id(task))
        total = task.total if task.total else 1
        self.progress.update(task_id, total=total, completed=max(task.done, total))
        self.progress.stop_task(task_id)
        if not self.ids:  # the outermost step ended: leave the bars as they are, and let the
            self.progress.stop()  # command's own output print below them
            for done in list(self.progress.task_ids):
                self.progress.remove_task(done)

    def close(self) -> None:
        self.progress.stop()

    def say(self, text: str, write: Callable[[str], None]) -> None:
        """Above the bars while they show on the terminal stdout shares; else on stdout."""
        if self.ids and sys.stdout.isatty():
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            write(text)
