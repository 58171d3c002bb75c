"""Grading support for the course's nbgrader exercises.

- ``lstmlib.grading.checks``: imported by the exercises' test cells; compares a
  student's answer with the reference and says in words what is wrong.
- ``lstmlib.grading.autograde``: nbgrader preprocessors named in
  ``nbgrader_config.py`` that keep one broken submission from costing more than
  the points it affects, and keep hidden tests hidden in the feedback.
"""
