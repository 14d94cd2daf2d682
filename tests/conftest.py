import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _headless_matplotlib():
    """Never open a window: plots go to the non-interactive Agg backend."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
