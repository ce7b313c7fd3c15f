"""A pool of Ray actors that decode for the driver: a ``TextModel`` (and ``StreamingModel``) whose calls are split
across workers, each holding its own verified ``LocalModel``.

Why it is safe to split: prompt ``i`` of a call samples with seed ``params.seed + i`` whatever the batch around it, so
a contiguous chunk starting at ``start`` is sent with seed ``params.seed + start`` and its completions are the ones a
single process would give (byte-identical with one thread and one slot per worker, as in deterministic mode). A chunk
whose worker dies is sent again to a live one: no prompt is lost, none is answered twice.

Every worker verifies, on its own node, the model's sha256 and its compute copy's against the hashes the driver
verified; a mismatch stops the job with one line naming the node. Self-debiased decoding (DINO) is not served here.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from appliance.engine.interface import Completion, SamplingParams
from appliance.errors import BadInput, IntegrityError, UserError

IN_FLIGHT = 2  # chunks queued per worker, so it never waits for the driver between two


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker loads and the hashes it must find: plain data, sent to every actor."""

    home: str
    model: str | None
    model_sha256: str
    compute_type: str
    compute_sha256: str
    n_threads: int | None = None  # None: the free cores of the worker's node
    max_parallel: int = 32
    ctx_per_seq: int = 512
    n_gpu_layers: int | None = None
    adapter: bytes | None = None  # a DP LoRA adapter's GGUF, loaded from memory on the worker


@dataclass
class WorkerStat:
    """One worker as the progress line and the Generate screen show it."""

    node: str
    pid: int = 0
    threads: int = 0
    tokens: int = 0
    busy_s: float = 0.0
    state: str = "starting"  # starting, idle, busy, dead

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.busy_s if self.busy_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "pid": self.pid, "threads": self.threads, "tokens": self.tokens,
                "tokens_per_s": round(self.tokens_per_s, 1), "state": self.state}


def node_name() -> str:
    """This node as a message names it: host name and the IP address Ray knows it by."""
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - outside Ray: the host name alone
        ip = ""
    host = socket.gethostname()
    return f"{host} ({ip})" if ip else host


def _verified_paths(spec: WorkerSpec) -> Path:
    """The compute copy to load on this node, checked against the driver's hashes; IntegrityError otherwise."""
    from appliance.engine.convert import compute_copy, copy_target
    from appliance.engine.registry import Registry, sha256_file
    from appliance.paths import model_cache_dir

    home = Path(spec.home)
    entry, source = Registry(home).verified_path(spec.model)  # the source's sha256, against the node's registry
    if entry.sha256 != spec.model_sha256:
        raise IntegrityError(f"model {entry.name} has sha256 {entry.sha256[:12]}…, the driver's {spec.model_sha256[:12]}…")
    target = copy_target(entry, model_cache_dir(home), spec.compute_type)
    if target is None:
        return source
    if target.exists():  # never re-made here: a copy that differs from the driver's is a refusal, not a repair
        digest = sha256_file(target)
    else:  # a fresh node: made from the verified source, then held to the driver's hash like any other
        target, digest = compute_copy(entry, source, model_cache_dir(home), spec.compute_type, None)
    if digest != spec.compute_sha256:
        raise IntegrityError(f"compute copy {target.name} has sha256 {digest[:12]}…, the driver verified "
                             f"{spec.compute_sha256[:12]}…")
    return target


class DecodeWorker:
    """The actor: verifies and loads the model when started, then decodes chunks of prompts. Errors at start come
    back as plain data, so the driver can name the node in one line."""

    def __init__(self) -> None:
        self.model = None

    def start(self, spec: WorkerSpec) -> dict[str, Any]:
        import os

        from appliance.engine.llama import LocalModel
        from appliance.engine.loader import default_gpu_layers
        from appliance.engine.memfile import memory_file

        info: dict[str, Any] = {"node": node_name(), "pid": os.getpid()}
        try:
            path = _verified_paths(spec)
            from appliance.engine.registry import Registry

            instruct = Registry(Path(spec.home)).get(spec.model).instruct
            kw = dict(instruct=instruct, n_threads=spec.n_threads, max_parallel=spec.max_parallel,
                      ctx_per_seq=spec.ctx_per_seq,
                      n_gpu_layers=default_gpu_layers() if spec.n_gpu_layers is None else spec.n_gpu_layers)
            if spec.adapter is None:
                self.model = LocalModel(path, **kw)
            else:
                with memory_file(spec.adapter, "adapter", _no_disk) as lora:
                    self.model = LocalModel(path, lora_path=lora, **kw)
        except UserError as e:
            return info | {"error": type(e).__name__, "message": str(e)}
        return info | {"threads": self.model.n_threads}

    def pid(self) -> int:
        import os

        return os.getpid()

    def generate(self, prompts: list[str], params: SamplingParams) -> list[Completion]:
        return self.model.generate(prompts, params)

    def format_prompt(self, user: str, system: str | None, assistant_prefix: str) -> str:
        return self.model.format_prompt(user, system, assistant_prefix)

    def loglik(self, prompt: str, continuation: str) -> float:
        return self.model.loglik(prompt, continuation)

    def stop(self) -> None:
        if self.model is not None:
            self.model.close()
            self.model = None


def _no_disk():  # noqa: ANN202 - a context manager that refuses
    raise BadInput("this node cannot hold an adapter in memory (no memfd); it is not written to disk")


@dataclass
class _Worker:
    actor: Any
    stat: WorkerStat
    in_flight: int = 0
    since: float = 0.0  # when it last became busy

    def busy(self) -> None:
        if self.in_flight == 0:
            self.since = time.perf_counter()
            self.stat.state = "busy"
        self.in_flight += 1

    def done(self, tokens: int) -> None:
        self.in_flight -= 1
        self.stat.tokens += tokens
        if self.in_flight == 0:
            self.stat.busy_s += time.perf_counter() - self.since
            self.stat.state = "idle"


class ClusterModel:
    """The driver's side: a ``TextModel`` + ``StreamingModel`` over the live workers. Use as a context manager (or
    call ``close``) so the actors are stopped."""

    def __init__(self, spec: WorkerSpec, n_workers: int, *, instruct: bool, spread: bool = True) -> None:
        import ray

        self.instruct = instruct
        self.max_parallel = spec.max_parallel
        self.n_threads = spec.n_threads
        self._ray = ray
        self._workers: list[_Worker] = []
        self._format = lru_cache(maxsize=4096)(self._format_remote)
        remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0,
                            scheduling_strategy="SPREAD" if spread else "DEFAULT")(DecodeWorker)
        actors = [remote.remote() for _ in range(n_workers)]
        spec_ref = ray.put(spec)  # the adapter's bytes travel once
        infos = self._gather([a.start.remote(spec_ref) for a in actors])
        for actor, info in zip(actors, infos):
            self._workers.append(_Worker(actor, WorkerStat(node=info.get("node", "?"), pid=info.get("pid", 0),
                                                           threads=info.get("threads", 0), state="idle")))
        bad = next((i for i in infos if "error" in i), None)
        if bad is not None:
            self.close()
            kind = IntegrityError if bad["error"] == "IntegrityError" else BadInput
            raise kind(f"node {bad['node']}: {bad['message']}")

    def _gather(self, refs: list[Any]) -> list[dict[str, Any]]:
        """Each worker's start report; a worker that died while starting is one line, not a traceback."""
        out = []
        for ref in refs:
            try:
                out.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as e:
                self.close_actors_quietly()
                raise UserError(f"a decoding worker died while loading the model ({type(e).__name__})") from None
        return out

    # ------------------------------------------------------------------ what the driver shows
    @property
    def nodes(self) -> list[str]:
        """The nodes that served (or serve) this job, each once."""
        return sorted({w.stat.node for w in self._workers})

    def worker_stats(self) -> list[dict[str, Any]]:
        return [w.stat.as_dict() for w in self._workers]

    def worker_pids(self) -> list[int]:
        return [w.stat.pid for w in self._workers]

    # ------------------------------------------------------------------ TextModel
    def format_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        return self._format(user, system, assistant_prefix)

    def _format_remote(self, user: str, system: str | None, assistant_prefix: str) -> str:
        return self._call(lambda a: a.format_prompt.remote(user, system, assistant_prefix))

    def loglik(self, prompt: str, continuation: str) -> float:
        return self._call(lambda a: a.loglik.remote(prompt, continuation))

    def complete(self, prompt: str, params: SamplingParams) -> Completion:
        return self.generate([prompt], params)[0]

    def generate(self, prompts: Sequence[str], params: SamplingParams, *,
                 on_token: Callable[[int], None] | None = None) -> list[Completion]:
        out: list[Completion | None] = [None] * len(prompts)
        for i, c in self.generate_stream(prompts, params):
            out[i] = c
            if on_token is not None:
                on_token(c.n_tokens)
        return out  # type: ignore[return-value]

    def generate_stream(self, prompts: Sequence[str], params: SamplingParams) -> Iterator[tuple[int, Completion]]:
        """``(prompt index, completion)`` chunk by chunk as workers finish; prompt ``i`` samples with seed
        ``params.seed + i`` on whichever worker serves it."""
        prompts = list(prompts)
        size = max(1, self.max_parallel)
        todo = deque((s, prompts[s : s + size]) for s in range(0, len(prompts), size))
        in_flight: dict[Any, tuple[_Worker, int, list[str]]] = {}
        try:
            while todo or in_flight:
                for w in self._live():
                    while todo and w.in_flight < IN_FLIGHT:
                        start, chunk = todo.popleft()
                        in_flight[w.actor.generate.remote(chunk, replace(params, seed=params.seed + start))] = (w, start, chunk)
                        w.busy()
                if not in_flight:
                    raise self._none_left()
                (ref,), _ = self._ray.wait(list(in_flight), num_returns=1)
                w, start, chunk = in_flight.pop(ref)
                try:
                    comps = self._ray.get(ref)
                except self._ray.exceptions.RayActorError:
                    self._lost(w)
                    todo.appendleft((start, chunk))  # sent again, to a live worker
                    continue
                except self._ray.exceptions.RayTaskError as e:
                    raise _cause(e) from None
                w.done(sum(c.n_tokens for c in comps))
                for j, c in enumerate(comps):
                    yield start + j, c
        finally:
            for ref in in_flight:  # a closed stream leaves no work queued on the workers
                try:
                    self._ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort: the worker may be gone
                    pass
            for w in self._workers:
                if w.stat.state == "busy":
                    w.in_flight = 0
                    w.stat.state = "idle"

    def _call(self, submit: Callable[[Any], Any]) -> Any:
        """One call on the first live worker, tried on the next when that one dies."""
        while True:
            live = self._live()
            if not live:
                raise self._none_left()
            try:
                return self._ray.get(submit(live[0].actor))
            except self._ray.exceptions.RayActorError:
                self._lost(live[0])
            except self._ray.exceptions.RayTaskError as e:
                raise _cause(e) from None

    def _live(self) -> list[_Worker]:
        return [w for w in self._workers if w.stat.state != "dead"]

    def _lost(self, w: _Worker) -> None:
        w.stat.state = "dead"
        w.in_flight = 0

    def _none_left(self) -> UserError:
        return UserError(f"every decoding worker has stopped ({', '.join(self.nodes)}); "
                         "the job keeps its committed batches and can be resumed")

    # ------------------------------------------------------------------ lifecycle
    def close_actors_quietly(self) -> None:
        for w in self._workers:
            try:
                self._ray.kill(w.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def close(self) -> None:
        self.close_actors_quietly()
        for w in self._workers:
            if w.stat.state != "dead":
                w.stat.state = "stopped"
        stack, self._stack = getattr(self, "_stack", None), None
        if stack is not None:
            stack.close()  # the Ray instance this pool started, if it started one

    def __enter__(self) -> "ClusterModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_pool(home: Path, spec: WorkerSpec, *, instruct: bool, address: str | None = None,
              workers: int | None = None) -> ClusterModel:
    """Connect to Ray (``runtime.connect``) and start the workers: ``workers`` of them, or one per live node of the
    cluster at ``address`` when not given. Closing the pool stops the workers and what the connection started."""
    from appliance.cluster.runtime import MAX_LOCAL_WORKERS, connect

    if workers is not None and not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise BadInput(f"workers must be 1..{MAX_LOCAL_WORKERS}, not {workers}")
    stack = ExitStack()
    try:
        stack.enter_context(connect(home, address=address, workers=workers))
        import ray

        n = workers or max(1, sum(1 for node in ray.nodes() if node.get("Alive")))
        pool = ClusterModel(spec, n, instruct=instruct)
    except BaseException:
        stack.close()
        raise
    pool._stack = stack
    return pool


def _cause(e: Exception) -> Exception:
    """The worker's own error (a one-line UserError) when it raised one, else Ray's."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, UserError) else e
