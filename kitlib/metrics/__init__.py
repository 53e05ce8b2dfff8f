"""Every competition metric, each checked against a hand-computed example (``tests/test_metrics*.py``).

One submodule per family; everything is re-exported here, so ``kitlib.metrics.map_at_k`` works.
Imports nothing else of the kit.
"""
from .classification import *  # noqa: F401,F403
from .clock import *  # noqa: F401,F403
from .ranking import *  # noqa: F401,F403
from .relations import *  # noqa: F401,F403
from .sequence import *  # noqa: F401,F403
from .tabular import *  # noqa: F401,F403
