"""The test suite (conftest.py explains the fixtures).

The helper modules are assertion-rewritten like the test modules, so that an assertion failing
inside a helper shows its values too.
"""

import pytest

pytest.register_assert_rewrite(
    "tests.account_helpers",
    "tests.activation_helpers",
    "tests.api",
    "tests.compat_helpers",
    "tests.live",
    "tests.snapshot",
)
