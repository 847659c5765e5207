"""Figures of the book, one module per chapter or concern: each function takes result objects and
returns a matplotlib Figure.

Colours are fixed per condition (:data:`CONDITION_COLORS`, the colour-blind-safe
Okabe-Ito palette), so a condition looks the same in every chapter. Figures are
closed in pyplot before they are returned: a notebook shows a figure once, when
it is the value of a cell (or when it is glued).
"""

from __future__ import annotations

from . import (
           alignment,
           controls,
           experiment,
           explorers,
           interventions,
           sharing,
           single_step,
           style,
)
from .alignment import *  # noqa: F401,F403
from .controls import *  # noqa: F401,F403
from .experiment import *  # noqa: F401,F403
from .explorers import *  # noqa: F401,F403
from .interventions import *  # noqa: F401,F403
from .sharing import *  # noqa: F401,F403
from .single_step import *  # noqa: F401,F403
from .style import *  # noqa: F401,F403

__all__ = [*style.__all__, *experiment.__all__, *single_step.__all__, *alignment.__all__, *interventions.__all__,
           *controls.__all__, *explorers.__all__, *sharing.__all__]
