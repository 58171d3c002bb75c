"""nbgrader configuration for lstm-course. Run nbgrader from the repository root.

- Sources with solutions and hidden tests: solutions/<assignment>/
- Released student notebooks (committed): exercises/<assignment>/
- Grading state (gradebook.db, submitted/, autograded/, feedback/): .grading/,
  which git ignores.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
GRADING_ROOT = HERE / ".grading"
GRADING_ROOT.mkdir(exist_ok=True)  # nbgrader changes into the root and fails if it is missing

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "lstm-course"
c.CourseDirectory.root = str(GRADING_ROOT)
c.CourseDirectory.source_directory = str(HERE / "solutions")
c.CourseDirectory.release_directory = str(HERE / "exercises")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# lstmlib.grading.repair restores deleted cells itself, in place (nbgrader's own
# add_missing_cells can crash on some deletions and leave the student ungraded).
c.OverwriteCells.add_missing_cells = False

# Grades are personal data: export them next to the gradebook, where git does not look.
c.ExportPlugin.to = str(GRADING_ROOT / "grades.csv")

# Every test cell finishes in well under a second; 15 s only bounds runaway code.
# lstmlib.grading.execute bounds the whole notebook, its output and its kernel restarts.
c.Execute.timeout = 15

# Student code runs in a sandboxed kernel that only computes; the judge, here in the
# grading process, decides every test (see lstmlib/grading/ and the README's Grading).
c.Autograde.sanitize_preprocessors = [
    "lstmlib.grading.repair.RepairSubmission",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "lstmlib.grading.execute.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "lstmlib.grading.judge.Judge",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "lstmlib.grading.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
