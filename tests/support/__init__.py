"""What the tests share: worlds to test in, builders of on-chain state, models and readers.

Test modules (`test_*.py`) import helpers from here and from no other test module; fixtures
stay in the `conftest.py` files, which build them from this package's machinery.
tests/test_layout.py holds the suite to that.
"""
