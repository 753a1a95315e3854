import pytest
from helpers import BROADCAST_PAIRS, check_op


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y,
                                lambda x, y: x / (y.abs() + 1)])
def test_binary_broadcast(shapes, op):
    check_op(shapes, op)


def test_matmul_exp():
    check_op([(3, 4), (4, 5)], lambda x, y: (x @ y).exp())
    check_op([(2, 1, 3, 4), (5, 4, 2)], lambda x, y: (x @ y).tanh())
