import os
from pathlib import Path

import numpy as np
import pytest

# Tests read the real MNIST files from ../shared/datasets (beside the repo), unless NDGRAD_DATA
# points elsewhere. Tests that need them skip on a developer machine without them, but in CI
# (CI=true) a missing data directory is an error: skipping would hide the training tests.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if "NDGRAD_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["NDGRAD_DATA"] = str(SHARED_DATA)


def pytest_sessionstart(session: pytest.Session) -> None:
    data = os.environ.get("NDGRAD_DATA")
    if os.environ.get("CI") == "true" and not (data and Path(data, "mnist").is_dir()):
        raise pytest.UsageError(f"CI needs the MNIST files: set NDGRAD_DATA or put them in "
                                f"{SHARED_DATA} (NDGRAD_DATA={data!r})")


@pytest.fixture(autouse=True)
def _seed():
    import torch

    import ndgrad

    ndgrad.manual_seed(0)
    np.random.seed(0)
    torch.manual_seed(0)  # torch's samples too: a statistical test must not be flaky
    yield


@pytest.fixture(params=["numpy", "numba"])
def path(request):
    """Run a test on both of ndgrad's paths: the NumPy reference and the numba kernels."""
    from ndgrad.ops import _numba

    if request.param == "numba" and not _numba.available():
        pytest.skip("numba is not installed (pip install ndgrad[fast])")
    with _numba.enabled(request.param == "numba"):
        yield request.param


# The longest tests, longest first. Under ``pytest -n 2`` (pytest-xdist) the first tests are
# dealt out in turn, one per worker, so these start at once on different workers instead of
# possibly queueing one behind the other; without xdist the order changes nothing.
_LONGEST_FIRST = ("tests/test_gpt_job.py::test_default_run_reaches_the_target",
                  "tests/test_mnist_job.py::test_cnn_reaches_99_percent",
                  "tests/test_mnist_job.py::test_default_mlp_reaches_98_percent")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {nodeid: i for i, nodeid in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))  # stable: the rest keep order
