# cell: predicted_rate_after_edit
predicted_rate_after_edit = 0.075

# cell: my_step_lr
class MyStepLR:
    """Bob: partly correct. The closed form: a rate set by hand between steps is overwritten."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma
        self.initial_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0

    def rate(self, initial):
        return initial * self.gamma ** (self.last_epoch // self.step_size)

    def step(self):
        self.last_epoch += 1
        for group, initial in zip(self.optimizer.param_groups, self.initial_lrs):
            group["lr"] = self.rate(initial)

    def get_last_lr(self):
        return [self.rate(initial) for initial in self.initial_lrs]

# cell: inferred_step_lr
# Bob reads the log as his closed form would: the rate after step 15 taken for the rate set by hand
inferred_step_lr = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.175}
