"""Mounted over ``debugpy`` in the grading sandbox: grading kernels have no debugger.

ipykernel imports debugpy when it starts (a tenth of a second of CPU in every grading
kernel, for a debugger nobody attaches) and runs without one when the import fails.
"""

raise ImportError("The grading sandbox runs kernels without a debugger.")
