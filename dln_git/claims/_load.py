"""Importing this module registers every built-in claim (one module per layer)."""

<<<<<<< HEAD
<<<<<<< HEAD
from . import (  # noqa: F401
    bayes,
    core,
    decomposition,
    flows,
    symbolic,
    symmetries_noise,
    symmetries_quotient,
    symmetries_relu,
    systems,
)
=======
from . import bayes, core, decomposition, flows, symbolic, symmetries_burgers, systems  # noqa: F401
>>>>>>> wt-burgers
=======
from . import bayes, core, decomposition, flows, symbolic, symmetries_duality, systems  # noqa: F401
>>>>>>> wt-dual
