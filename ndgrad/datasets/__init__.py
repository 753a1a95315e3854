"""Datasets that find their files locally or download them: MNIST and FashionMNIST."""

from ndgrad.datasets._files import DatasetFileError
from ndgrad.datasets.mnist import MNIST, FashionMNIST
from ndgrad.datasets.shakespeare import TinyShakespeare

__all__ = ["MNIST", "DatasetFileError", "FashionMNIST", "TinyShakespeare"]
