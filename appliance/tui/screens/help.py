"""Help: the keys, what each screen is for, and which roles see it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from appliance.tui import keys

HELP = f"""\
# Help

**Keys**: {keys.keys_line()}.
The footer shows the current screen's keys. Tab moves between fields.

| screen | for | roles |
|---|---|---|
| Home | vault state, models, recent jobs and exports, privacy budget per seed set | all |
| Seeds | preview, check and import a seed file | author |
| Tasks | write a task spec; load a shipped example | author |
| Generate | run, cancel and resume generation jobs (with a DP adapter); train an adapter | author |
| Review | quarantined records; release or reject with a justification | reviewer (others read) |
| Quality | a job's quality report and accuracy-vs-size curve | author, reviewer |
| Audit | the signed log: filter, verify, export | reviewer, admin |
| Export | request (author); approve or deny (another user, reviewer) | author, reviewer |
| Users | add users with a role, disable them, set a passphrase | admin |

Quitting during a job stops it after its current batch; it stays resumable (Generate → Resume, or
`appliance resume JOB`). Press Escape to close this help.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding(keys.app_key("help"), "dismiss", "Close", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
