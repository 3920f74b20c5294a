# cell: my_step_lr
class MyStepLR:
    """Carol: broken, a syntax error."""

    def __init__(self, optimizer, step_size, gamma=0.1)
        self.optimizer = optimizer
