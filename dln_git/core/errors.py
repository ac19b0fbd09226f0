"""Warnings and errors shared by every layer."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before reaching its tolerance.

    The result is still returned (with ``converged=False`` where the function returns a
    result object), but it does not satisfy the requested accuracy.
    """
