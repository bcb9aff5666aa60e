"""Errors that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input or configuration: the message names the file, line or field at fault."""


def located(path, message: str, line: int | None = None, field: str | None = None) -> UserError:
    """Build a UserError whose message reads ``path:line: field 'x': message``."""
    where = str(path)
    if line is not None:
        where += f":{line}"
    if field is not None:
        where += f": field '{field}'"
    return UserError(f"{where}: {message}")
