# cell: predicted_rate_after_edit
predicted_rate_after_edit = 0.075

# cell: my_step_lr
class MyStepLR:
    """Dave: hangs. step() never returns."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0

    def step(self):
        while self.last_epoch >= 0:
            self.last_epoch += 0

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]
