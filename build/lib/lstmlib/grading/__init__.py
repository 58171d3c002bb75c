"""Grading for the course's nbgrader exercises: a sandboxed kernel, and a judge outside it.

The student's kernel only computes; the grading process decides. In the order a
submission meets them:

- ``repair``: puts a submission back into the assignment's shape (pasted,
  duplicated, moved and deleted cells) before nbgrader checks it;
- ``execute``: runs it in a bubblewrap sandbox (``sandbox``), bounded in time and
  output, surviving dead and hung kernels;
- ``student``: what the test cells run in the kernel: checks the visible example
  while a student works; while graded, only computes outputs on every case;
- ``oracle``: the reference functions a kernel may call in a given cell, served by
  the grader (the sandbox holds no reference implementation);
- ``judge``: draws the hidden cases from the instructor's secret, computes the
  expected outputs, compares, and writes each test cell's verdict;
- ``assignments``: every exercise's tests (``spec.Test``), public like the course;
- ``checks`` and ``inputs``: comparisons worded for students, and random inputs;
- ``feedback``: keeps hidden tests out of the feedback pages.
"""
