"""Numerical layer: balancing flows on fibers (MATH.md section 3).

So far: the closed-form N = 2 geometric-mean oracle. The L2 and squared-moment-map flows, their
group integrators and Newton balancing are issue 5.
"""

from .oracles import GeometricMeanBalance, geometric_mean_balance

__all__ = ["GeometricMeanBalance", "geometric_mean_balance"]
