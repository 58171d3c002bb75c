"""Mounted over ``lstmlib.scratch`` and ``lstmlib.nn`` inside the grading sandbox.

The reference implementation is what answers are compared with; in the kernel
that grades a notebook it is not there (``lstmlib.grading.oracle`` says why).
"""

raise ImportError(
    "The course's reference implementation is not available while your notebook is graded: "
    "the grader compares what your own code computes with it, outside your kernel."
)
