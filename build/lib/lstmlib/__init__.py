"""lstmlib: the small reference library of the lstm-course book.

Every model exists twice:

- ``lstmlib.scratch``: NumPy, with forward *and* backward passes written by hand
  (for teaching; gradient-checked against finite differences);
- ``lstmlib.nn``: PyTorch modules written from the same equations, running on CPU
  or CUDA, with ``torch.nn``'s constructor arguments and ``state_dict`` layout.

``lstmlib.gradcheck`` holds the numerical gradient checker that tests, chapters
and exercises share; ``lstmlib.shapes`` the input checks that give every shape
error the same clear wording.
"""

__version__ = "0.1.0"
