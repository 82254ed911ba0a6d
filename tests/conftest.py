"""Shared pytest configuration: hypothesis profiles for the property suites.

``ci`` (default): 25 examples, fixed, fast and derandomized, so CI runs are reproducible.
``thorough``: many more examples and larger shapes; run on demand with
``HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_theorems_mrvf.py``.
Tests read ``THOROUGH`` to widen their shapes.
"""

import os

from hypothesis import HealthCheck, settings

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
