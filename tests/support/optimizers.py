"""The smallest optimizer a scheduler can drive: one parameter, plain SGD, for claims about schedulers alone."""

import torch


def one_parameter_sgd(lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
