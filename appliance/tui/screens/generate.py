"""Generate (authors): pick task, method, model, DP adapter (none by default), size, policy (and a seed set for the
methods that use one), start; live progress with ETA, tokens/s, accepted and quarantined counts, and accepted records
streaming into a table. Adapt trains a DP adapter on the chosen seed set at the typed ε (minutes; in a worker, with
its progress), charging the seed set's privacy budget; it is then in the adapter list.

The job runs in a thread worker (the service layer is synchronous). Cancel asks it to stop after the current batch:
the job is closed as 'cancelled' with every committed batch kept, and Resume finishes it later, as after a crash."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker

from appliance.errors import BadInput
from appliance.service import adapters as adapter_service
from appliance.service import catalog
from appliance.service import jobs as job_service
from appliance.service import seeds as seed_service
from appliance.service import tasks as task_service
from appliance.tui.components.method_options import MethodOptions
from appliance.tui.components.records_table import RecordsTable
from appliance.tui.screens.base import AppScreen, report_error


class GenerateScreen(AppScreen):
    NAME = "generate"
    TITLE = "Generate"
    BINDINGS = [
        Binding("ctrl+g", "start", "Start"),
        Binding("ctrl+x", "cancel_job", "Cancel job"),
        Binding("ctrl+r", "resume", "Resume job"),
        Binding("ctrl+y", "adapt", "Train adapter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cancel_event: threading.Event | None = None
        self.worker: Worker | None = None
        self.job_id: int | None = None
        self.target = 0
        self.quarantined = 0
        self.t0 = 0.0
        self.adapt_worker: Worker | None = None
        self.adapt_cancel = threading.Event()

    @property
    def job_running(self) -> bool:
        """A generation job or an adapter training is running (quitting and signing out stop either)."""
        return any(w is not None and not w.is_finished for w in (self.worker, self.adapt_worker))

    def body(self) -> ComposeResult:
        with Vertical(id="generate"):
            with Horizontal(classes="row"):
                yield Select([], id="gen-task", prompt="task")
                yield Select([(m, m) for m in catalog.method_names()], id="gen-method", value="zerogen",
                             allow_blank=False)
            yield MethodOptions("zerogen", id="gen-options")  # the chosen method's declared options
            with Horizontal(classes="row"):
                yield Select([(m, m) for m in catalog.model_names(self.home)], id="gen-model", prompt="default model")
                yield Select([], id="gen-adapter", prompt="no adapter")
                yield Select([(p, p) for p in catalog.policy_names()], id="gen-policy", value="default",
                             allow_blank=False)
            with Horizontal(classes="row"):
                yield Label("records", classes="field")
                yield Input("200", id="gen-n", type="integer", classes="short")
                yield Select([], id="gen-seed-set", prompt="no seed set")
                yield Label("ε", classes="field")
                yield Input("4", id="gen-epsilon", type="number", classes="short")
                yield Button("Adapt", id="adapt")
            with Horizontal(classes="row"):  # scale-out: decoding on Ray workers (appliance.cluster)
                yield Input("", id="gen-cluster", placeholder="cluster HOST:PORT (empty: this machine)")
                yield Input("", id="gen-workers", type="integer", placeholder="workers", classes="short")
            with Horizontal(classes="row"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel", variant="error", disabled=True)
                yield Select([], id="gen-resume", prompt="job to resume")
                yield Button("Resume", id="resume")
            yield ProgressBar(id="gen-progress", show_eta=True)
            yield Static("No job running.", id="gen-stats", markup=False)  # shows errors and names: plain text
            yield DataTable(id="gen-workers-table", show_cursor=False)  # a cluster job's workers; hidden otherwise
            yield RecordsTable(id="gen-records")

    def on_mount(self) -> None:
        table = self.query_one("#gen-workers-table", DataTable)
        table.add_columns("worker node", "pid", "tokens/s", "state")
        table.display = False

    def on_screen_resume(self) -> None:
        if self.job_running:
            return
        self.query_one("#gen-task", Select).set_options(self.guard(task_service.task_choices, self.session) or [])
        if self.session.can("seed.read"):
            sets = self.guard(seed_service.list_seed_sets, self.session) or []
            self.query_one("#gen-seed-set", Select).set_options([(s["name"], s["name"]) for s in sets])
        self._refresh_adapters()
        self._refresh_resumable()

    def _refresh_adapters(self, select: str | None = None) -> None:
        sel = self.query_one("#gen-adapter", Select)
        keep = select or self._value("#gen-adapter")
        choices = self.guard(catalog.adapter_choices, self.session) or []
        sel.set_options(choices)
        if keep in {name for _, name in choices}:
            sel.value = keep

    def _refresh_resumable(self) -> None:
        jobs = self.guard(catalog.resumable_jobs, self.session) or []
        self.query_one("#gen-resume", Select).set_options(
            [(f"job {j['id']} · {j['method']} · {j['status']}", j["id"]) for j in jobs])

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "gen-method" and event.value is not Select.NULL:
            await self.query_one(MethodOptions).show(str(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"start": self.action_start, "cancel": self.action_cancel_job, "resume": self.action_resume,
                  "adapt": self.action_adapt}
        if event.button.id in action:
            action[event.button.id]()

    # ------------------------------------------------------------------ starting

    def _value(self, wid: str) -> Any:
        v = self.query_one(wid, Select).value
        return None if v is Select.NULL else v

    def _scale(self) -> tuple[str | None, int | None]:
        """The cluster address and worker count typed (both empty: decode in this process); BadInput when malformed."""
        from appliance.cluster.runtime import MAX_LOCAL_WORKERS, parse_address

        cluster = self.query_one("#gen-cluster", Input).value.strip() or None
        text = self.query_one("#gen-workers", Input).value.strip()
        try:
            workers = int(text) if text else None
        except ValueError:
            workers = 0
        if cluster is not None:
            parse_address(cluster)
        if workers is not None and not 1 <= workers <= MAX_LOCAL_WORKERS:
            raise BadInput(f"workers must be 1..{MAX_LOCAL_WORKERS}, not {text}")
        return cluster, workers

    def action_start(self) -> None:
        if self.worker is not None and not self.worker.is_finished:
            self.notify("a job is already running", severity="warning")
            return
        task_ref = self._value("#gen-task")
        if task_ref is None:
            self.notify("choose a task first", severity="warning")
            return
        try:
            n = int(self.query_one("#gen-n", Input).value or "0")
        except ValueError:
            n = 0
        if not 1 <= n <= 1_000_000:
            self.notify("records must be a number between 1 and 1000000", severity="error")
            return
        session, home = self.session, self.home
        method, model = self._value("#gen-method"), self._value("#gen-model")
        policy, seed_set = self._value("#gen-policy"), self._value("#gen-seed-set")
        adapter = self._value("#gen-adapter")
        options = self.guard(self.query_one(MethodOptions).values)
        if options is None:
            return
        decoding = {k: options.pop(k, None) for k in ("temperature", "top_p")}  # fields of the request itself
        scale = self.guard(self._scale)
        if scale is None:
            return
        cluster, workers = scale

        def runner(on_progress, on_batch, cancel):
            from appliance.service.generation import GenerationRequest, run_generation

            spec = task_service.resolve_task(session, str(task_ref))
            req = GenerationRequest(task=spec, method=str(method), n=n, model=model, policy=str(policy),
                                    seed_set=seed_set, adapter=adapter, method_options=options, cluster=cluster,
                                    workers=workers, **decoding)
            return run_generation(session, home, req, on_progress, on_batch=on_batch, cancel=cancel)

        self._launch(runner, n, f"{method} · {n} records")

    def action_resume(self) -> None:
        if self.worker is not None and not self.worker.is_finished:
            self.notify("a job is already running", severity="warning")
            return
        job_id = self._value("#gen-resume")
        if job_id is None:
            self.notify("choose a job to resume", severity="warning")
            return
        job = self.guard(job_service.get_job, self.session, int(job_id))
        scale = self.guard(self._scale)
        if job is None or scale is None:
            return
        session, home = self.session, self.home

        def runner(on_progress, on_batch, cancel):
            from appliance.service.generation import resume_job

            return resume_job(session, home, int(job_id), on_progress, on_batch=on_batch, cancel=cancel,
                              cluster=scale[0], workers=scale[1])

        self.job_id = int(job_id)
        self._launch(runner, int(job["config"]["request"]["n"]), f"resume job {job_id}")

    def _launch(self, runner: Callable, n: int, title: str) -> None:
        self.target, self.quarantined, self.t0 = n, 0, time.perf_counter()
        self.cancel_event = threading.Event()
        self.query_one("#gen-records", RecordsTable).clear()
        self.query_one("#gen-workers-table", DataTable).display = False
        self.query_one("#gen-progress", ProgressBar).update(total=n, progress=0)
        self.query_one("#gen-stats", Static).update(f"{title}: loading the model…")
        self._buttons(running=True)
        app, cancel = self.app, self.cancel_event

        def on_progress(p) -> None:
            app.call_from_thread(self._progress, p.accepted, p.tokens, list(p.workers))

        def on_batch(job_id: int, rows: list[dict]) -> None:
            app.call_from_thread(self._batch, job_id, rows)

        self.worker = self.background(runner, on_progress, on_batch, cancel, group="job",
                                      done=lambda result: self._ended("succeeded", result), failed=self._job_stopped)

    def _job_stopped(self, error: BaseException) -> None:
        from appliance.service.generation import JobCancelled

        self._ended("cancelled" if isinstance(error, JobCancelled) else "failed", error)

    # ------------------------------------------------------------------ while it runs (interface thread)

    def _progress(self, accepted: int, tokens: int, workers: list[dict] | None = None) -> None:
        elapsed = max(1e-6, time.perf_counter() - self.t0)
        self.query_one("#gen-progress", ProgressBar).update(progress=min(accepted, self.target))
        rate = accepted / elapsed
        eta = f"{(self.target - accepted) / rate:.0f} s" if rate > 0 and accepted < self.target else "–"
        job = f"job {self.job_id} · " if self.job_id else ""
        self.query_one("#gen-stats", Static).update(
            f"{job}accepted {accepted}/{self.target} · quarantined {self.quarantined} · "
            f"{tokens / elapsed:.0f} tokens/s · ETA {eta}")
        if workers:
            self._show_workers(workers)

    def _show_workers(self, workers: list[dict]) -> None:
        """The cluster's workers: node, pid, tokens/s and state of each (plain text cells: node names are not markup)."""
        from rich.text import Text

        table = self.query_one("#gen-workers-table", DataTable)
        table.display = True
        table.clear()
        for w in workers:
            table.add_row(Text(str(w["node"])), str(w["pid"]), f"{w['tokens_per_s']:.0f}", Text(str(w["state"])))

    def _batch(self, job_id: int, rows: list[dict]) -> None:
        self.job_id = job_id
        self.quarantined += sum(r["status"] == "quarantined" for r in rows)
        self.query_one("#gen-records", RecordsTable).add_records(r for r in rows if r["status"] == "accepted")

    def _ended(self, outcome: str, value: Any) -> None:
        self._buttons(running=False)
        stats = self.query_one("#gen-stats", Static)
        if outcome == "succeeded":
            r = value
            self.job_id = r.job_id
            stats.update(f"job {r.job_id} done: {len(r.records)} accepted, {r.gate.get('quarantined', 0)} quarantined · "
                         f"{r.wall_s:.1f} s · {r.tokens_per_s:.0f} tokens/s")
            self.notify(f"job {r.job_id}: {len(r.records)} records accepted")
        elif outcome == "cancelled":
            stats.update(f"job {self.job_id or ''} cancelled: committed batches are kept; Resume finishes it")
            self.notify(f"job {self.job_id or ''} cancelled; it can be resumed", severity="warning")
        else:
            stats.update(f"job stopped: {value}")
            report_error(self.app, value)
        self._refresh_resumable()

    def _buttons(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#resume", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running

    # ------------------------------------------------------------------ training a DP adapter

    def action_adapt(self) -> None:
        """Train a DP adapter on the chosen seed set (``appliance.service.adapters.train_adapter``) in a worker."""
        if self.adapt_worker is not None and not self.adapt_worker.is_finished:
            self.notify("an adapter is already being trained", severity="warning")
            return
        seed_set = self._value("#gen-seed-set")
        if seed_set is None:
            self.notify("choose the seed set to train the adapter on", severity="warning")
            return
        try:
            epsilon = float(self.query_one("#gen-epsilon", Input).value)
        except ValueError:
            self.notify("ε must be a number, e.g. 4", severity="error")
            return
        req = adapter_service.AdaptRequest(seed_set=str(seed_set), epsilon=epsilon, model=self._value("#gen-model"),
                                           policy=str(self._value("#gen-policy") or "default"))
        session, home, app, cancel = self.session, self.home, self.app, self.adapt_cancel
        cancel.clear()
        self.query_one("#adapt", Button).disabled = True
        self.query_one("#gen-stats", Static).update(f"training a DP adapter on {seed_set} at ε = {epsilon:g}: "
                                                    "checking the budget and loading the model…")

        def on_progress(p) -> None:
            if cancel.is_set():  # stop between steps: an unfinished run charges and stores nothing
                raise BadInput("adapter training stopped before it finished; nothing was charged or stored")
            app.call_from_thread(self._adapt_progress, p.step, p.total_steps, p.epsilon, p.loss, p.seconds)

        def train() -> dict:  # looked up at call time, so a test can stand in a fake for the minutes-long training
            return adapter_service.train_adapter(session, home, req, on_progress)

        self.adapt_worker = self.background(train, group="adapt", done=lambda manifest: self._adapted(manifest, None),
                                            failed=lambda error: self._adapted(None, error))

    def _adapt_progress(self, step: int, total: int, epsilon: float | None, loss: float, seconds: float) -> None:
        self.query_one("#gen-progress", ProgressBar).update(total=total, progress=step)
        eps = f" · ε so far {epsilon:.2f}" if epsilon is not None else ""
        self.query_one("#gen-stats", Static).update(
            f"training adapter: step {step}/{total} · loss {loss:.3f}{eps} · {seconds:.0f} s")

    def _adapted(self, manifest: dict | None, error: BaseException | None) -> None:
        self.query_one("#adapt", Button).disabled = False
        if error is not None:
            self.query_one("#gen-stats", Static).update(f"adapter not trained: {error}")
            report_error(self.app, error)
            return
        eps = manifest["privacy"]["epsilon"]
        self.query_one("#gen-stats", Static).update(
            f"adapter {manifest['name']} stored: ε = {eps:.2f} charged to seed set {manifest['seed_set']}. "
            f"{manifest.get('in_plain_words', '')}")
        self.notify(f"adapter {manifest['name']} trained (ε = {eps:.2f})")
        self._refresh_adapters(select=manifest["name"])

    # ------------------------------------------------------------------ stopping

    def action_cancel_job(self) -> None:
        """Stop the running job after its current batch, or else the adapter training after its current step."""
        if self.worker is not None and not self.worker.is_finished and self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one("#gen-stats", Static).update("cancelling after the current batch…")
        elif self.adapt_worker is not None and not self.adapt_worker.is_finished:
            self.adapt_cancel.set()
            self.query_one("#gen-stats", Static).update("stopping the adapter training after the current step…")
        else:
            self.notify("no job is running", severity="warning")

    async def stop_job(self) -> None:
        """Cancel and wait for the workers (used when quitting or signing out)."""
        if self.cancel_event is not None:
            self.cancel_event.set()
        self.adapt_cancel.set()
        for worker in (self.worker, self.adapt_worker):
            if worker is not None:
                await worker.wait()
