"""Progress feedback for long flow and balancing runs (a tqdm bar on stderr).

``progress`` option of :func:`dln_git.flows.moment_flow`, :func:`dln_git.flows.balance` and the
flow runner (:mod:`dln_git.flows.runner`):

* ``None`` (default, "auto"): a bar appears only once a run has lasted :data:`AUTO_DELAY` seconds
  (tqdm's ``delay``), and only when stderr is a terminal, the process is not a worker of a
  process pool (``multiprocessing.parent_process()`` is None: ``dln-git verify --jobs J`` workers
  stay silent), ``TQDM_DISABLE`` is not set and no :func:`quiet` block is active. Under pytest
  (stderr captured) and in pipes nothing is printed.
* ``True``: always shown, from the first step (still written to stderr only).
* ``False``: never.

What is shown: accepted steps, the flow time, and where a stopping tolerance ``mu_tol`` is
known, ``||mu|| / mu_tol`` with the forecast of the steps still needed from the observed decay of
``log ||mu||`` per step over the last :data:`WINDOW` steps (the bar's total is then steps done plus
forecast, so tqdm's remaining-time estimate applies). Without a tolerance no forecast exists and
only the time reached against ``t_final`` is shown. The bar is removed when the run ends
(``leave=False``).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import sys
from collections import deque

import numpy as np

from ..core.moment_map import _moment_norm
from ..core.options import Rule

__all__ = ["AUTO_DELAY", "PROGRESS", "FlowProgress", "quiet", "shows_progress"]

PROGRESS = Rule("bool", allow_none=True,
                what="a progress bar on stderr: True, False, or None (auto: a terminal and a run over 2 s)")
#: Seconds a run lasts before the automatic bar appears.
AUTO_DELAY = 2.0
#: Accepted steps over which the decay rate of ``log ||mu||`` is measured for the forecast.
WINDOW = 20

_quiet_depth = 0


@contextlib.contextmanager
def quiet():
    """Within this block the automatic bar (``progress=None``) stays off; ``True`` still shows."""
    global _quiet_depth
    _quiet_depth += 1
    try:
        yield
    finally:
        _quiet_depth -= 1


def shows_progress(progress: bool | None) -> bool:
    """Whether a run with this ``progress`` option may show a bar (see the module docstring)."""
    if progress is not None:
        return bool(progress)
    if _quiet_depth or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"):
        return False
    if multiprocessing.parent_process() is not None:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class FlowProgress:
    """``on_step(t, W)`` callback of :func:`dln_git.flows.integrators.integrate` driving a tqdm bar.

    ``target``: the stopping tolerance on ``||mu||`` at the run's scale (None: no forecast);
    ``time_shift``: the run's times are the caller's times ``2^time_shift``.
    """

    def __init__(self, progress: bool | None, *, desc: str, target: float | None = None,
                 t_final: float | None = None, time_shift: int = 0):
        self.enabled = shows_progress(progress)
        self.forced = progress is True
        self.desc, self.target, self.t_final, self.time_shift = desc, target, t_final, time_shift
        self.steps = 0
        self.logs: deque = deque(maxlen=WINDOW + 1)
        self.bar = None

    def _open(self):
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is a dependency; without it the feedback is dropped, not the run
            self.enabled = False
            return
        self.bar = tqdm(total=None, desc=self.desc, unit="step", file=sys.stderr, leave=False,
                        delay=0.0 if self.forced else AUTO_DELAY, dynamic_ncols=True)

    def forecast(self) -> float | None:
        """Steps still needed to reach ``target`` at the decay rate of the last window (None if unknown)."""
        if self.target is None or len(self.logs) < 2 or self.target <= 0:
            return None
        rate = (self.logs[0] - self.logs[-1]) / (len(self.logs) - 1)
        gap = self.logs[-1] - math.log(self.target)
        if gap <= 0:
            return 0.0
        return gap / rate if rate > 0 else math.inf

    def __call__(self, t: float, W) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self._open()
            if self.bar is None:
                return
        self.steps += 1
        shown_t = float(np.ldexp(t, -self.time_shift))
        parts = [f"t={shown_t:.3g}"]
        if self.target is not None:
            mu = _moment_norm(W)
            self.logs.append(math.log(mu) if mu > 0 else -math.inf)
            parts.append(f"||mu||/tol={mu / self.target:.2e}" if self.target > 0 else f"||mu||={mu:.2e}")
            left = self.forecast()
            if left is not None and math.isfinite(left):
                self.bar.total = self.steps + math.ceil(left)
                parts.append(f"~{math.ceil(left)} steps left")
        elif self.t_final:
            parts[0] = f"t={shown_t:.3g}/{float(np.ldexp(self.t_final, -self.time_shift)):.3g}"
        self.bar.set_postfix_str(", ".join(parts), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
