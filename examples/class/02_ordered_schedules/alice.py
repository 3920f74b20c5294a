# cell: predicted_rate_after_edit
predicted_rate_after_edit = 0.3 * 0.5 * 0.5

# cell: my_step_lr
class MyStepLR:
    """Alice: correct (chainable, like PyTorch's StepLR)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma
        self.last_epoch = 0
        self.remember_rates()

    def remember_rates(self):
        self.last_rates = tuple(float(group["lr"]) for group in self.optimizer.param_groups)

    def step(self):
        self.last_epoch += 1
        at_boundary = self.last_epoch % self.step_size == 0
        for group in self.optimizer.param_groups:
            if at_boundary:  # multiply what is there now, so that a rate set by hand is kept
                group["lr"] *= self.gamma
        self.remember_rates()

    def get_last_lr(self):
        return [*self.last_rates]

# cell: inferred_step_lr
gamma = logged_rates[5] / logged_rates[4]  # a decay where only the scheduler wrote the rate
inferred_step_lr = {"step_size": 5, "gamma": gamma, "hand_set_rate": logged_rates[15] / gamma}
