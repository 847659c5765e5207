"""Interactive explorers for the chapters, backed by the package.

Six explorers, one control each; every frame is drawn with the functions and
colours of :mod:`subliminal.plots` and carries a caption of numbers computed
from the data it draws:

========================  =======  ====================================================
``single_step_explorer``  ch. 2    teacher step eps -> first-order vs actual change of
                                   the trait loss over the student step alpha, with the
                                   alpha at which first order breaks down
``alignment_explorer``    ch. 3    threshold tau over the cached cosine traces of the
                                   chapter's run: which steps have cos > tau, per epoch,
                                   against the accuracy gained per epoch (no training)
``tau_explorer``          ch. 4    projection threshold tau -> cosine trace with the
                                   steps that fired, firing rate per epoch, accuracy and
                                   distillation loss against the plain student
``liminal_explorer``      ch. 5    liminal scale -> accuracy curve and alignment trace
                                   against the plain student
``learning_rate_explorer`` ch. 6   student learning rate -> steps with cos > 0, mean
                                   cosine and accuracy, shared-init vs cross-init
``sharing_explorer``      ch. 7    an arm (a drop-down list) -> its alignment trace on
                                   the measured steps and its accuracy curve against the
                                   shared-init and cross-model students (no training)
========================  =======  ====================================================

The experiment explorers take the chapter's own ``config`` and ``seeds`` and
call :func:`subliminal.experiments.run_experiment` with exactly the arguments
the chapter's sweeps use, so a frame that coincides with a chapter run is read
from the on-disk cache instead of being recomputed. ``device=None`` means CUDA
when available.

Each explorer runs in one of two modes:

* **live** (default in a running notebook, ipywidgets 7.7 or 8): a
  ``FloatSlider`` (``FloatLogSlider`` for rates) accepts any value in its range;
  a new value computes its frame on demand (results memoised on disk, frames in
  memory, so a value seen before answers at once);
* **static** (``static=True``, or ``static=None`` with the environment variable
  ``SUBLIMINAL_STATIC_WIDGETS=1``, which the book build sets): the frames of a
  grid of slider values are computed up front and stored in a ``Stack`` whose
  ``selected_index`` is ``jslink``-ed to a ``SelectionSlider``, so the built
  HTML page works without a kernel (only ``@jupyter-widgets/base`` and
  ``controls`` models: they are bundled in the page's local ``embed-amd.js``).
  The page says that it shows a grid.
"""

from __future__ import annotations

from ..config import fast_mode  # noqa: F401 (part of this module's interface)
from .alignment import *  # noqa: F401,F403
from .explorer import *  # noqa: F401,F403
from .frames import *  # noqa: F401,F403
from .learning_rate import *  # noqa: F401,F403
from .liminal import *  # noqa: F401,F403
from .projection import *  # noqa: F401,F403
from .sharing import *  # noqa: F401,F403
from .single_step import *  # noqa: F401,F403

__all__ = [  # noqa: F405 (the names come from the submodules above)
    "STATIC_ENV", "Frame", "default_config", "static_mode", "fast_mode", "figure_png",
    "single_step_explorer", "alignment_explorer", "tau_explorer", "liminal_explorer", "learning_rate_explorer",
    "sharing_explorer", "single_step_frame", "alignment_frame", "tau_frame", "liminal_frame", "learning_rate_frame",
    "sharing_frame", "paired_ends",
]
