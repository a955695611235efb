"""Assignments: release the student version of a master notebook, grade submissions in a sandbox.

    course release a1_backprop                       -> assignments/release/a1_backprop/a1_backprop.ipynb
    course grade a1_backprop submissions/ --out grades.csv --jobs 2

Modules: `notebook` (nbgrader metadata, release), `sandbox` (isolated runs), `budget` (one
memory and process budget for all of a sandbox's processes), `wire` (the result channel, read
as hostile input), `submissions` (finding and reading submissions without trusting the folder),
`names` (student names in the CSV and in feedback file names), `grader` (CSV, feedback,
resumable runs), `spec` (what a grader spec is made of), `checks` (the messages of the visible
tests), `cli` (the two subcommands); for Keras assignments, `datasets` (the data a sandbox
sees, the hidden test split), `saved_model` (a saved model evaluated in a second sandbox) and
`model_checks` (what that sandbox checks, shared with the visible tests).
"""
