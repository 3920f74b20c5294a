# cell: predicted_rate_after_edit
predicted_rate_after_edit = 0.3 * 0.5 * 0.5

# cell: my_step_lr
class MyStepLR:
    """Alice: correct (chainable, like PyTorch's StepLR)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self.last_lrs = [float(group["lr"]) for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.gamma
        self.last_lrs = [float(group["lr"]) for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self.last_lrs)
