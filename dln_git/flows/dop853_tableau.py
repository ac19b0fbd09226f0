"""The Dormand–Prince 8(5,3) Runge–Kutta tableau ("DOP853") as exact decimal constants.

Source: E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential Equations I:
Nonstiff Problems*, 2nd ed., Springer 1993, section II.5 ("An 8th order embedded method", the
method of Dormand and Prince with the error estimator of orders 5 and 3; used in the comparisons
of section II.10), and E. Hairer's public-domain Fortran code ``dop853.f``, whose constants
``c2 .. c11``, ``a21 .. a1211``, ``b1 .. b12``, ``bhh1 .. bhh3`` and ``er1 .. er12`` are written
out below digit for digit (30 significant digits, rounded to float64 by the parser; ``c1 = 0``,
``c12 = 1``). Entries the code leaves out are zero. Only the twelve stages of a step are given;
the three extra stages of the dense output (``c14 .. c16``) are not used here.

A step of ``y' = f(t, y)`` from ``(t, y)`` with step ``h`` computes the stages
``k_i = f(t + C[i] h, y + h sum_{j<i} A[i, j] k_j)`` for ``i = 0 .. 11`` (``A`` strictly lower
triangular, ``C[11] = 1``) and the eighth-order update ``y_new = y + h sum_i B[i] k_i``.
A thirteenth field ``k_12 = f(t + h, y_new)`` (first-same-as-last: it starts the next step)
enters the error estimates only with weight zero, which is why ``E3`` and ``E5`` have 13
entries and the last one is 0. The two error estimators are:

* ``E5[i] = er_{i+1}`` (``er2 .. er5 = 0``): ``h sum_i E5[i] k_i`` is the difference between the
  eighth-order update and an embedded fifth-order one, with weights ``B - E5[:12]``;
* ``E3[i] = B[i] - BHH[i]``, with ``BHH`` the third-order weights ``bhh1, bhh2, bhh3`` of
  ``dop853.f`` at stages 1, 9 and 12 (indices 0, 8, 11): the difference between the
  eighth-order update and the embedded third-order one.

Both estimate a difference of two consistent solutions, so their entries sum to 0. ``dop853.f``
combines them into the local error ``|e5|^2 / sqrt(|e5|^2 + 0.01 |e3|^2)``, of order ``h^8``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BHH", "E3", "E5", "N_STAGES", "A", "B", "C"]

#: Number of stages of one step (the first-same-as-last field at the new point not counted).
N_STAGES = 12

# Nodes c1 .. c12 of dop853.f (c1 = 0, c12 = 1); c2 .. c5 involve sqrt(6):
# c4 = (6 - sqrt 6) / 10, c5 = (6 + sqrt 6) / 10, c3 = 2 c4 / 3, c2 = 4 c4 / 9.
_NODES = (
    0.0,
    0.526001519587677318785587544488e-01,
    0.789002279381515978178381316732e-01,
    0.118350341907227396726757197510e00,
    0.281649658092772603273242802490e00,
    0.333333333333333333333333333333e00,
    0.25e00,
    0.307692307692307692307692307692e00,
    0.651282051282051282051282051282e00,
    0.6e00,
    0.857142857142857142857142857142e00,
    1.0,
)

# Coupling coefficients a_ij of dop853.f, row i (stage i, 1-based) -> {j: a_ij}; others are zero.
_COUPLING = {
    2: {1: 5.26001519587677318785587544488e-2},
    3: {1: 1.97250569845378994544595329183e-2, 2: 5.91751709536136983633785987549e-2},
    4: {1: 2.95875854768068491816892993775e-2, 3: 8.87627564304205475450678981324e-2},
    5: {
        1: 2.41365134159266685502369798665e-1,
        3: -8.84549479328286085344864962717e-1,
        4: 9.24834003261792003115737966543e-1,
    },
    6: {
        1: 3.7037037037037037037037037037e-2,
        4: 1.70828608729473871279604482173e-1,
        5: 1.25467687566822425016691814123e-1,
    },
    7: {
        1: 3.7109375e-2,
        4: 1.70252211019544039314978060272e-1,
        5: 6.02165389804559606850219397283e-2,
        6: -1.7578125e-2,
    },
    8: {
        1: 3.70920001185047927108779319836e-2,
        4: 1.70383925712239993810214054705e-1,
        5: 1.07262030446373284651809199168e-1,
        6: -1.53194377486244017527936158236e-2,
        7: 8.27378916381402288758473766002e-3,
    },
    9: {
        1: 6.24110958716075717114429577812e-1,
        4: -3.36089262944694129406857109825e0,
        5: -8.68219346841726006818189891453e-1,
        6: 2.75920996994467083049415600797e1,
        7: 2.01540675504778934086186788979e1,
        8: -4.34898841810699588477366255144e1,
    },
    10: {
        1: 4.77662536438264365890433908527e-1,
        4: -2.48811461997166764192642586468e0,
        5: -5.90290826836842996371446475743e-1,
        6: 2.12300514481811942347288949897e1,
        7: 1.52792336328824235832596922938e1,
        8: -3.32882109689848629194453265587e1,
        9: -2.03312017085086261358222928593e-2,
    },
    11: {
        1: -9.3714243008598732571704021658e-1,
        4: 5.18637242884406370830023853209e0,
        5: 1.09143734899672957818500254654e0,
        6: -8.14978701074692612513997267357e0,
        7: -1.85200656599969598641566180701e1,
        8: 2.27394870993505042818970056734e1,
        9: 2.49360555267965238987089396762e0,
        10: -3.0467644718982195003823669022e0,
    },
    12: {
        1: 2.27331014751653820792359768449e0,
        4: -1.05344954667372501984066689879e1,
        5: -2.00087205822486249909675718444e0,
        6: -1.79589318631187989172765950534e1,
        7: 2.79488845294199600508499808837e1,
        8: -2.85899827713502369474065508674e0,
        9: -8.87285693353062954433549289258e0,
        10: 1.23605671757943030647266201528e1,
        11: 6.43392746015763530355970484046e-1,
    },
}

# Eighth-order weights b1 .. b12 of dop853.f (b2 .. b5 = 0).
_WEIGHTS = {
    1: 5.42937341165687622380535766363e-2,
    6: 4.45031289275240888144113950566e0,
    7: 1.89151789931450038304281599044e0,
    8: -5.8012039600105847814672114227e0,
    9: 3.1116436695781989440891606237e-1,
    10: -1.52160949662516078556178806805e-1,
    11: 2.01365400804030348374776537501e-1,
    12: 4.47106157277725905176885569043e-2,
}

# Third-order weights bhh1, bhh2, bhh3 of dop853.f, at stages 1, 9 and 12.
_THIRD_ORDER_WEIGHTS = {
    1: 0.244094488188976377952755905512e00,
    9: 0.733846688281611857341361741547e00,
    12: 0.220588235294117647058823529412e-01,
}

# Fifth-order error weights er1 .. er12 of dop853.f (er2 .. er5 = 0).
_FIFTH_ORDER_ERROR = {
    1: 0.1312004499419488073250102996e-01,
    6: -0.1225156446376204440720569753e01,
    7: -0.4957589496572501915214079952e00,
    8: 0.1664377182454986536961530415e01,
    9: -0.3503288487499736816886487290e00,
    10: 0.3341791187130174790297318841e00,
    11: 0.8192320648511571246570742613e-01,
    12: -0.2235530786388629525884427845e-01,
}


def _vector(entries: dict[int, float], size: int) -> np.ndarray:
    """A read-only array of ``size`` zeros with ``entries`` (1-based stage -> value) filled in."""
    out = np.zeros(size)
    for stage, value in entries.items():
        out[stage - 1] = value
    out.setflags(write=False)
    return out


def _coupling_matrix() -> np.ndarray:
    out = np.zeros((N_STAGES, N_STAGES))
    for stage, row in _COUPLING.items():
        out[stage - 1] = _vector(row, N_STAGES)
    out.setflags(write=False)
    return out


#: Nodes ``c_i``, shape (12,).
C = np.array(_NODES)
C.setflags(write=False)
#: Coupling coefficients ``a_ij``, shape (12, 12), strictly lower triangular.
A = _coupling_matrix()
#: Weights ``b_i`` of the eighth-order update, shape (12,).
B = _vector(_WEIGHTS, N_STAGES)
#: Weights of the embedded third-order solution (``bhh1, bhh2, bhh3``), shape (12,).
BHH = _vector(_THIRD_ORDER_WEIGHTS, N_STAGES)
#: Fifth-order error weights ``er_i``, shape (13,) (last entry: the first-same-as-last field, 0).
E5 = _vector(_FIFTH_ORDER_ERROR, N_STAGES + 1)
#: Third-order error weights ``b_i - bhh_i``, shape (13,) (last entry 0).
E3 = np.append(B - BHH, 0.0)
E3.setflags(write=False)
