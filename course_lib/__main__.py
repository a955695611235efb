"""`python -m course_lib` works as the `course` command does."""

from course_lib.cli import main

raise SystemExit(main())
