"""What a test file runs, read from its syntax tree (a mention in a comment or a
string does not count): used to check that every example and notebook is run."""

import ast
from pathlib import Path


def first_arguments(test_file: Path, callee: str) -> set[str]:
    """The literal first arguments of `callee(...)` calls inside the file's test functions."""
    tree = ast.parse(Path(test_file).read_text())
    return {call.args[0].value
            for test in ast.walk(tree)
            if isinstance(test, ast.FunctionDef) and test.name.startswith("test_")
            for call in ast.walk(test)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == callee and call.args
            and isinstance(call.args[0], ast.Constant)}
