# cell: my_step_lr
class MyStepLR:
    """Bob: partly correct. Only the first parameter group is updated."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.initial_lr = optimizer.param_groups[0]["lr"]
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1
        self.optimizer.param_groups[0]["lr"] = self.initial_lr * self.gamma ** (self.last_epoch // self.step_size)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]
