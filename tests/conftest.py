import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if "NDGRAD_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["NDGRAD_DATA"] = str(SHARED_DATA)


@pytest.fixture(autouse=True)
def _seed():
    import ndgrad

    ndgrad.manual_seed(0)
    np.random.seed(0)
    yield
