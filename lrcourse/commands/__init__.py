"""The `lrcourse` command's verbs, one module each (`lrcourse.cli` wires them): a verb's `add` makes its parser on
the command's subparsers, and its `command_<verb>` runs it and returns the exit status. What several verbs share
(the gradebook and sandbox options, a refusal's message) is in `options`."""
