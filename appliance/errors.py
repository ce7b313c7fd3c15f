"""Error types shared by every stage.

``UserError`` is bad input from the user (malformed file, wrong passphrase, invalid spec, unknown model):
the CLI prints its one-line message and exits with code 2. Anything else escaping is our bug: exit code 1.
"""


class UserError(Exception):
    """Bad input from the user; the message is one line that names the problem."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
