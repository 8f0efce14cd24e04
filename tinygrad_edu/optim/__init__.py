"""Optimizers (they own all their state) and learning-rate schedules.

>>> import tinygrad_edu as tg
>>> model = tg.nn.Linear(3, 2)
>>> opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = tg.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
