"""A preview for students: their scheduler class next to PyTorch's, epoch by epoch, without failing the notebook."""

from __future__ import annotations

from lrcourse.checking.guard import SECONDS_PER_CASE, Guard, StudentTimeout
from lrcourse.schedules import lr_curve


def preview(
    student_class, torch_class, epochs: int = 10, lr: float = 1.0, metrics=None, seconds=SECONDS_PER_CASE, **kwargs
) -> None:
    """Print the rates of `student_class` and of PyTorch's `torch_class` epoch by epoch.

    The student's class runs under the same guard as the tests (output captured, a few seconds at
    most: `seconds`), and any problem is printed rather than raised, so this cell never stops the notebook.
    """
    reference = lr_curve(lambda opt: torch_class(opt, **kwargs), epochs, lrs=lr, metrics=metrics)
    print(f"PyTorch's {torch_class.__name__}: {[round(float(x), 6) for x in reference]}")
    guard = Guard(seconds)
    try:
        with guard.running():
            mine = lr_curve(lambda opt: student_class(opt, **kwargs), epochs, lrs=lr, metrics=metrics)
    except NotImplementedError:
        print(f"your {student_class.__name__}: not written yet")
        return
    except StudentTimeout:
        print(f"your {student_class.__name__}: did not finish within {guard.seconds:.0f} s (a loop that never ends?)")
        return
    except Exception as error:
        print(f"your {student_class.__name__}: raised {type(error).__name__}: {error}")
        return
    print(
        f"your {student_class.__name__}:{' ' * (len(torch_class.__name__) - len(student_class.__name__) + 6)}"
        f"{[round(float(x), 6) for x in mine]}"
    )
