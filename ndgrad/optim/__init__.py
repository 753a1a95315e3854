"""ndgrad.optim: optimizers and learning-rate schedulers, as torch.optim."""

from ndgrad.optim import lr_scheduler, swa_utils
from ndgrad.optim.adadelta import Adadelta
from ndgrad.optim.adafactor import Adafactor
from ndgrad.optim.adagrad import Adagrad
from ndgrad.optim.adam import Adam
from ndgrad.optim.adamax import Adamax
from ndgrad.optim.adamw import AdamW
from ndgrad.optim.asgd import ASGD
from ndgrad.optim.lbfgs import LBFGS
from ndgrad.optim.muon import Muon
from ndgrad.optim.nadam import NAdam
from ndgrad.optim.optimizer import Optimizer
from ndgrad.optim.radam import RAdam
from ndgrad.optim.rmsprop import RMSprop
from ndgrad.optim.rprop import Rprop
from ndgrad.optim.sgd import SGD
from ndgrad.optim.sparse_adam import SparseAdam

__all__ = ["Optimizer", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "ASGD",
           "LBFGS", "Muon", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam",
           "lr_scheduler", "swa_utils"]
