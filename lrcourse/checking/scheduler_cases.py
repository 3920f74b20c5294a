"""The scheduler exercises' test cases (chapters 2 and 3): what a test cell configures, and the request
that both sides of a check build from it (PyTorch's reference run here, the student's observer there)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lrcourse.pytorch_trajectories import walk


@dataclass
class StepLRCase:
    """MyStepLR(optimizer, step_size, gamma) on groups with rates `lrs`, stepped `steps` times.

    `edits` sets rates by hand between steps, as other code might: {k: {group: rate}} writes
    `param_groups[group]["lr"] = rate` just before step number k (counting from 1). With `after_edits` a
    state is also recorded right after each hand edit, before the step (what get_last_lr() says then); an edit
    keyed steps + 1 then comes after the last step, with no step after it.
    """

    lrs: list[float]
    step_size: int
    gamma: float | None = None  # None: not passed, so the class's default is tested
    steps: int = 20
    hint: str = ""
    edits: dict = field(default_factory=dict)
    after_edits: bool = False

    @property
    def kwargs(self) -> dict:
        return {"step_size": self.step_size} | ({} if self.gamma is None else {"gamma": self.gamma})

    def request(self) -> dict:
        return case_request(self, "StepLR", steps=self.steps)


@dataclass
class PlateauCase:
    """MyReduceLROnPlateau(optimizer, **kwargs) on groups with rates `lrs`, fed `metrics`.

    `as_tensor` passes the metrics as float32 tensors instead of floats: True, each a new one-element tensor
    torch.tensor([m]); "0-d", each a new 0-d tensor torch.tensor(m) (what a loss is); "0-d reused", one 0-d tensor
    that the caller updates in place (metric.fill_(m)) before each step(). `edits` and `after_edits` as in
    StepLRCase.
    """

    lrs: list[float]
    metrics: list[float]
    kwargs: dict = field(default_factory=dict)
    as_tensor: bool | str = False
    hint: str = ""
    edits: dict = field(default_factory=dict)
    after_edits: bool = False

    def request(self) -> dict:
        return case_request(self, "ReduceLROnPlateau", metrics=self.metrics)


def case_request(case: StepLRCase | PlateauCase, scheduler: str, **length) -> dict:
    """The request both sides build from a case: the scheduler, the groups' rates, its arguments, how long it
    runs (`steps`, or the `metrics` fed to it) and the hand edits."""
    request = {"scheduler": scheduler, "lrs": case.lrs, "kwargs": case.kwargs, **length}
    return request | {"edits": edits_as_json(case.edits)} | ({"after_edits": True} if case.after_edits else {})


def state_labels(case) -> list[tuple[str, int]]:
    """For each recorded state: when it was taken, and how many steps came before it (in `walk`'s order, the
    order both sides record states in)."""
    labels = [("right after construction", 0)]
    for kind, step, _ in walk(case.request()):
        if kind == "edited":
            labels.append((f"after the hand edit just before step number {step} (before that step)", step - 1))
        elif kind == "step":
            labels.append((f"after step number {step}", step))
    return labels


def edits_as_json(edits: dict) -> dict:
    """JSON's form of the hand edits: string keys."""
    return {str(step): {str(group): rate for group, rate in groups.items()} for step, groups in edits.items()}
