"""Mounted over an installed package that an exercise's grading kernel goes without.

An exercise that asks for an algorithm a package already implements (CTC's forward
algorithm is ``torch.nn.functional.ctc_loss``) names the package in its ``WITHHELD``;
in that exercise's grading sandbox this file stands in for it, under its name.
"""

raise ImportError(
    f"{__name__} is not available while this exercise is graded: the exercise asks for the "
    "algorithm in your own NumPy code, and the grader runs your notebook without it."
)
