"""ndgrad.optim: optimizers and learning-rate schedulers, as torch.optim."""

from ndgrad.optim import lr_scheduler
from ndgrad.optim.adagrad import Adagrad
from ndgrad.optim.adam import Adam
from ndgrad.optim.adamw import AdamW
from ndgrad.optim.optimizer import Optimizer
from ndgrad.optim.rmsprop import RMSprop
from ndgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
