"""Shared pytest configuration: hypothesis profiles for the property suites.

``ci`` (default): 25 examples, fixed, fast and derandomized, so CI runs are reproducible.
``thorough``: many more examples and larger shapes; run on demand with
``HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_theorems_mrvf.py``.
Tests read ``THOROUGH`` to widen their shapes.
"""

import atexit
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
THOROUGH = PROFILE == "thorough"

if not THOROUGH:
    # Even without an example database Hypothesis caches constants under ./.hypothesis; the
    # default suite writes nothing outside temporary directories, so its home is one.
    # (A thorough run keeps ./.hypothesis: its example database replays failures on the next run.)
    _HOME = tempfile.mkdtemp(prefix="stablepoint-hypothesis-")
    set_hypothesis_home_dir(_HOME)
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
