"""How gpuforge starts vLLM in a pod: `vllm serve` argv, multi-node roles, drain, fabric check, download.

Every flag and behaviour here is read from the pinned release (vLLM 0.19.0, the wheel's source;
file:line below are in that wheel) and from LeaderWorkerSet v0.10.0 (kubernetes-sigs/lws tag
v0.10.0, commit 2161f38f):

- Multi-node without Ray. vLLM 0.19 runs one replica over several nodes with its own
  multiprocessing executor: the head runs `vllm serve ... --nnodes N --node-rank 0 --master-addr
  <head>`, every other node the same command with `--node-rank i --headless`
  (docs/serving/parallelism_scaling.md, "Running vLLM with MultiProcessing").
  `--nnodes`, `--node-rank`, `--master-addr`, `--master-port`: engine/arg_utils.py:840-843;
  `--headless`: entrypoints/cli/serve.py:54-62 (no API server, api_server_count 0);
  a headless node with node_rank_within_dp > 0 runs only a MultiprocExecutor joining the head's
  torch.distributed group at master_addr:master_port (serve.py:187-202,
  distributed/parallel_state.py:1385-1388). nnodes > 1 needs the `mp` executor
  (config/parallel.py:753-760, "nnodes > 1 can only be set when distributed executor backend is
  mp, uni or external_launcher") and world size divisible by nnodes (arg_utils.py:1644).
  The stock image `vllm/vllm-openai:v0.19.0` has no Ray (the wheel's METADATA lists no `ray`
  requirement), so `--distributed-executor-backend ray` would fail at start
  (config/parallel.py:798-801 `ray_utils.assert_ray_available()`): refused.
- LeaderWorkerSet injects LWS_LEADER_ADDRESS (`<lws>-<group>.<lws>.<namespace>`, the leader's
  name under the group's headless Service), LWS_GROUP_SIZE and LWS_WORKER_INDEX (0 = leader) into
  every container and init container, ahead of the container's own env so `$(VAR)` references
  expand (api/leaderworkerset/v1/leaderworkerset_types.go:67-75, pkg/utils/pod/pod_utils.go:108-176);
  its headless Service publishes not-ready addresses (pkg/utils/controller/controller_utils.go:50),
  so workers resolve the leader before it is ready.
- Graceful drain: `--shutdown-timeout N` (arg_utils.py:1359, default 0 = "abort"): on SIGTERM the
  API server stops the engine with that timeout (entrypoints/launcher.py:97-113); the engine
  rejects new requests and lets running ones finish for up to N seconds, then aborts the rest
  (v1/engine/core.py:1203-1236, 1272-1278). A headless worker exits on the first SIGTERM
  (serve.py:174-185), which would break the group's NCCL communicator mid-drain, so its preStop
  waits for the leader's server to stop first.
- `--distributed-timeout-seconds` (arg_utils.py:846, config/parallel.py:250-254): the
  torch.distributed init timeout ("Increase this for multi-node setups where model downloads may
  be slow"); PyTorch's default is 600 s, shorter than a 760 GiB download on one node while the
  other waits.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gpuforge.errors import Problem
from gpuforge.sizing.versions import VLLM_VERSION

Role = Literal["server", "leader", "worker"]
FabricName = Literal["efa", "infiniband", "none"]

# config/parallel.py:240 `master_port: int = 29501`.
MASTER_PORT = 29501
# Port of the launch wrapper's fabric-check metrics (gpuforge's choice; DCGM exporter has 9400).
FABRIC_METRICS_PORT = 9402
# Where the pod's launch scripts are mounted (a ConfigMap) and NCCL writes its debug log.
SCRIPTS_DIR = "/opt/gpuforge"
NCCL_LOG_DIR = "/tmp/nccl"

# What NCCL prints when a communicator picks its network: `INFO(NCCL_INIT, "Using network %s",
# ncclNetName(comm))` (NVIDIA/nccl src/init.cc). The name is the net plugin's: NCCL's own "IB"
# (libibverbs) or "Socket" (TCP), or aws-ofi-nccl's "Libfabric" (aws/aws-ofi-nccl
# src/nccl_ofi_interface_nvidia.cpp, `.name = "Libfabric"`; some builds prefix "AWS ").
EXPECTED_NCCL_NET: dict[str, str] = {"efa": "Libfabric", "infiniband": "IB"}

# Kubernetes endpoints and kube-proxy / gateway routes take a few seconds to drop a terminating
# pod; it keeps accepting requests until then, so SIGTERM waits this long (preStop sleep).
PRESTOP_S = 10
# After the drain vLLM tears down engine and worker processes (seconds, observed < 20 s).
EXIT_MARGIN_S = 30


@dataclass(frozen=True)
class Launch:
    """What one replica runs: the model, its engine flags and how the replica is laid out.

    Attributes:
        model: Hugging Face repo id (positional `model_tag` of `vllm serve`).
        engine_args: flags from the plan (`ServingPlan.engine_args()`).
        port: the API server port.
        nnodes: nodes per replica (>1: LeaderWorkerSet group, mp executor across nodes).
        shutdown_timeout_s: `--shutdown-timeout` (drain).
        distributed_timeout_s: `--distributed-timeout-seconds` (multi-node only).
    """

    model: str
    engine_args: tuple[str, ...]
    port: int
    nnodes: int = 1
    shutdown_timeout_s: int = 0
    distributed_timeout_s: int | None = None

    def argv(self, role: Role) -> list[str]:
        """`vllm serve` argv for one pod of the replica.

        `$(LWS_LEADER_ADDRESS)` / `$(LWS_WORKER_INDEX)` are expanded by the kubelet from the env
        LWS injects (Kubernetes "dependent environment variables" in command and args).
        """
        cmd = ["vllm", "serve", self.model, *self.engine_args]
        if role != "worker":
            cmd += ["--host", "0.0.0.0", "--port", str(self.port)]
        if self.shutdown_timeout_s and role != "worker":
            cmd += ["--shutdown-timeout", str(self.shutdown_timeout_s)]
        if self.nnodes > 1:
            rank = "0" if role == "leader" else "$(LWS_WORKER_INDEX)"
            cmd += [
                "--distributed-executor-backend", "mp",
                "--nnodes", str(self.nnodes),
                "--node-rank", rank,
                "--master-addr", "$(LWS_LEADER_ADDRESS)",
                "--master-port", str(MASTER_PORT),
            ]  # fmt: skip
            if self.distributed_timeout_s:
                cmd += ["--distributed-timeout-seconds", str(self.distributed_timeout_s)]
            if role == "worker":
                cmd.append("--headless")
        return cmd


# GPU vendors gpuforge's serving path deploys end to end. AMD (MI300X on AKS) is not among them:
# AKS installs no AMD driver (`gpuProfile.driver: None` is enforced for Standard_ND96isr_MI300X_v5,
# MicrosoftDocs/azure-aks-docs articles/aks/use-amd-gpus.md) and leaves driver and device plugin
# to the AMD GPU Operator, which builds the out-of-tree amdgpu module for the node's kernel in the
# cluster (Kernel Module Management) and pushes the image to a container registry with pull
# credentials (instinct.docs.amd.com gpu-operator DeviceConfig `spec.driver.image`,
# `imageRegistrySecret`), plus cert-manager. gpuforge provisions no registry for that, and
# whether the build succeeds on AKS's Azure-tuned Ubuntu kernel could not be checked here; a
# ROCm vLLM image exists (vllm/vllm-openai-rocm:v0.19.0, gpuforge.k8s.images.VLLM_ROCM). Until
# that path is built and tested, the planner never proposes an AMD GPU.
SERVED_GPU_VENDORS = ("nvidia",)


def serving_support_problem(vendor: str, gpu_name: str = "") -> str | None:
    """Why gpuforge cannot serve a GPU of `vendor`, or None when it can."""
    if vendor in SERVED_GPU_VENDORS:
        return None
    return (
        f"{gpu_name or vendor} GPUs are not served by gpuforge yet: on AKS the AMD GPU Operator must build "
        "the amdgpu driver in the cluster and push it to a registry gpuforge does not provision "
        "(see docs/serving.md, 'AMD GPUs')"
    )


def flag_value(args: Sequence[str], flag: str) -> str | None:
    """The value following `flag` in an argv list (`--flag value` or `--flag=value`)."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def multinode_problems(
    engine_args: Sequence[str], gpus_per_node: int, nnodes: int, image_has_ray: bool = False
) -> list[Problem]:
    """Layouts vLLM 0.19 refuses (or the image cannot run) for a replica of `nnodes` nodes."""
    out: list[Problem] = []
    backend = flag_value(engine_args, "--distributed-executor-backend")
    if backend == "ray" and not image_has_ray:
        out.append(
            Problem(
                "engine_args",
                "--distributed-executor-backend ray, but the serving image has no Ray "
                "(vllm/vllm-openai:v0.19.0 ships none; vllm/config/parallel.py asserts Ray is importable)",
                "drop the flag: gpuforge runs multi-node replicas with vLLM's own mp executor (--nnodes)",
            )
        )
    if nnodes > 1 and backend not in (None, "mp"):
        out.append(
            Problem(
                "engine_args",
                f"--distributed-executor-backend {backend} with {nnodes} nodes per replica",
                "vLLM 0.19 accepts --nnodes > 1 only with the mp backend (config/parallel.py:753); drop the flag",
            )
        )
    for flag in ("--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless"):
        if any(a == flag or a.startswith(flag + "=") for a in engine_args):
            out.append(Problem("engine_args", f"{flag} is set by gpuforge per pod", f"remove {flag}"))
    try:
        tp = int(flag_value(engine_args, "--tensor-parallel-size") or 1)
        pp = int(flag_value(engine_args, "--pipeline-parallel-size") or 1)
        dp = int(flag_value(engine_args, "--data-parallel-size") or 1)
    except ValueError:
        return out + [Problem("engine_args", "a parallel size is not an integer", "pass integers")]
    world = tp * pp * dp
    if nnodes > 1:
        if dp != 1:
            out.append(
                Problem(
                    "engine_args",
                    f"--data-parallel-size {dp} inside a multi-node replica",
                    "gpuforge scales replicas with LeaderWorkerSet groups; plan data parallelism as replicas",
                )
            )
        if world % nnodes:  # vllm/engine/arg_utils.py:1644
            out.append(
                Problem(
                    "engine_args",
                    f"world size {world} (TP {tp} x PP {pp}) is not divisible by {nnodes} nodes",
                    "choose TP x PP a multiple of the node count",
                )
            )
        elif world // nnodes != gpus_per_node:
            out.append(
                Problem(
                    "engine_args",
                    f"{world // nnodes} ranks per node (TP {tp} x PP {pp} / {nnodes} nodes) but {gpus_per_node} GPUs per node",
                    "use every GPU of each node: TP x PP = GPUs per node x nodes",
                )
            )
    return out


def drain_seconds(ttft_p95_ms: float, itl_p95_ms: float, output_tokens: int) -> int:
    """`--shutdown-timeout`: a request of the planned length admitted just before SIGTERM
    finishes at the SLA (first token at TTFT p95, then one token per ITL p95). Longer
    completions are aborted at the deadline (vLLM returns them as aborted)."""
    s = ttft_p95_ms / 1000.0 + max(0, output_tokens) * itl_p95_ms / 1000.0
    return max(1, math.ceil(s))


def termination_grace_s(shutdown_timeout_s: int) -> int:
    """terminationGracePeriodSeconds covers the preStop sleep, the drain and the process exit."""
    return PRESTOP_S + shutdown_timeout_s + EXIT_MARGIN_S


def worker_prestop_command(port: int) -> list[str]:
    """A headless worker outlives its leader's drain: wait until the leader's API stops answering.

    vLLM's headless worker exits on SIGTERM at once (entrypoints/cli/serve.py:174-185); leaving
    the group before the leader finishes its in-flight requests would abort them.
    """
    probe = (
        "import os, socket, sys, time\n"
        "addr = os.environ['LWS_LEADER_ADDRESS']\n"
        "while True:\n"
        "    try:\n"
        f"        socket.create_connection((addr, {port}), timeout=2).close()\n"
        "    except OSError:\n"
        "        sys.exit(0)\n"
        "    time.sleep(2)\n"
    )
    return ["python3", "-c", probe]


# --- the pod's scripts (mounted from a ConfigMap at SCRIPTS_DIR) --------------------------------
LAUNCH_SH = f"""\
#!/bin/bash
# gpuforge launch wrapper for vLLM {VLLM_VERSION}: runs "$@" (the vllm serve argv) as a child,
# forwards SIGTERM / SIGINT to it (vLLM drains on SIGTERM) and exits with its status.
# In a LeaderWorkerSet group (LWS_LEADER_ADDRESS set) every pod, leader included, first waits
# until the leader's name resolves (it is --master-addr); with GPUFORGE_NCCL_NET set,
# fabric_check.py reports which network NCCL chose.
set -uo pipefail
child=""
term=0
# Installed first: a SIGTERM before vLLM runs is remembered and forwarded once it does.
trap 'term=1; if [ -n "$child" ]; then kill -TERM "$child" 2> /dev/null; fi' TERM INT
if [ "${{GPUFORGE_ROLE:-server}}" = "worker" ]; then
  : "${{LWS_LEADER_ADDRESS:?LeaderWorkerSet sets LWS_LEADER_ADDRESS in every pod of a group}}"
fi
if [ -n "${{LWS_LEADER_ADDRESS:-}}" ]; then
  until getent hosts "$LWS_LEADER_ADDRESS" > /dev/null 2>&1; do
    [ "$term" = 1 ] && exit 143
    echo "gpuforge: waiting for the group leader $LWS_LEADER_ADDRESS to resolve"
    sleep "${{GPUFORGE_POLL_S:-5}}"
  done
fi
if [ -n "${{GPUFORGE_NCCL_NET:-}}" ]; then
  mkdir -p {NCCL_LOG_DIR}
  python3 {SCRIPTS_DIR}/fabric_check.py &
fi
"$@" &
child=$!
if [ "$term" = 1 ]; then kill -TERM "$child" 2> /dev/null; fi
rc=0
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2> /dev/null || break
done
exit "$rc"
"""

FABRIC_CHECK_PY = f'''\
"""gpuforge fabric check: which network did NCCL choose for this pod's communicators?

Reads NCCL's debug log (NCCL_DEBUG=INFO, NCCL_DEBUG_FILE under {NCCL_LOG_DIR}) for
"NCCL INFO Using network <name>" (NVIDIA/nccl src/init.cc), logs the verdict once and serves
it as Prometheus metrics on GPUFORGE_METRICS_PORT:
  gpuforge_nccl_fabric_checked 0|1, gpuforge_nccl_fabric_ok 0|1,
  gpuforge_nccl_network_info{{network="<chosen>", expected="<expected>"}} 1
"""
import glob
import http.server
import os
import re
import sys
import threading
import time

EXPECTED = os.environ["GPUFORGE_NCCL_NET"]
PORT = int(os.environ.get("GPUFORGE_METRICS_PORT", "{FABRIC_METRICS_PORT}"))
PATTERN = os.environ.get("GPUFORGE_NCCL_LOG_GLOB", "{NCCL_LOG_DIR}/*")
POLL_S = float(os.environ.get("GPUFORGE_POLL_S", "2"))
USING = re.compile(r"NCCL INFO Using network (.+?)\\s*$")
state = {{"chosen": None}}


def matches(chosen):
    # aws-ofi-nccl names itself "Libfabric" (some builds "AWS Libfabric"); NCCL's own are exact.
    return chosen == EXPECTED or chosen.endswith(" " + EXPECTED)


def metrics():
    chosen = state["chosen"]
    lines = ["# TYPE gpuforge_nccl_fabric_checked gauge", f"gpuforge_nccl_fabric_checked {{int(chosen is not None)}}"]
    if chosen is not None:
        lines += ["# TYPE gpuforge_nccl_fabric_ok gauge", f"gpuforge_nccl_fabric_ok {{int(matches(chosen))}}"]
        lines += ["# TYPE gpuforge_nccl_network_info gauge",
                  f'gpuforge_nccl_network_info{{{{network="{{chosen}}", expected="{{EXPECTED}}"}}}} 1']
    return ("\\n".join(lines) + "\\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        body = metrics()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def scan():
    for path in sorted(glob.glob(PATTERN)):
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = USING.search(line)
                    if m:
                        return m.group(1)
        except OSError:
            continue
    return None


def main():
    server = http.server.ThreadingHTTPServer(("", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while state["chosen"] is None:
        state["chosen"] = scan()
        if state["chosen"] is None:
            time.sleep(POLL_S)
    chosen = state["chosen"]
    if matches(chosen):
        print(f"gpuforge: fabric check passed: NCCL uses network {{chosen!r}} (expected {{EXPECTED!r}})", flush=True)
    else:
        print(
            f"gpuforge: fabric check FAILED: NCCL uses network {{chosen!r}}, expected {{EXPECTED!r}}: cross-node "
            "traffic runs over TCP sockets and the planned latency does not hold. Check the fabric device "
            "plugin resources of this pod and that the image has the NCCL network plugin (see docs/serving.md).",
            flush=True,
        )
    if os.environ.get("GPUFORGE_FABRIC_CHECK_ONCE"):
        server.shutdown()
        return 0 if matches(chosen) else 1
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
'''

DOWNLOAD_PY = f'''\
"""gpuforge model download (init container): the checkpoint into HF_HOME, with progress and retries.

Files vLLM 0.19 loads from a Hugging Face repo with `--load-format auto`
(model_executor/model_loader/default_loader.py:110-160 `_prepare_weights`, weight_utils.py
`download_weights_from_hf`): the Mistral-format `consolidated*.safetensors` when the repo has
them; else, with a root model.safetensors.index.json, exactly the files of its weight_map; else
the first of *.safetensors, *.bin, *.pt that matches a top-level file. Plus the top-level
config, tokenizer and chat-template files. `original/` (Meta's consolidated .pth copy, as large as the
weights) and other weight formats are skipped. vLLM then finds every file in the cache.
"""
import json
import os
import sys
import threading
import time
from fnmatch import fnmatch

from huggingface_hub import HfApi, hf_hub_download, snapshot_download

try:  # huggingface_hub >= 0.23
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
except ImportError:  # pragma: no cover
    from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

REPO = os.environ["GPUFORGE_MODEL"]
REVISION = os.environ.get("GPUFORGE_REVISION") or None
EXPECTED_GIB = float(os.environ.get("GPUFORGE_DOWNLOAD_GIB", "0"))
ATTEMPTS = int(os.environ.get("GPUFORGE_DOWNLOAD_ATTEMPTS", "{8}"))
BACKOFF_S = float(os.environ.get("GPUFORGE_DOWNLOAD_BACKOFF_S", "15"))
PROGRESS_S = float(os.environ.get("GPUFORGE_PROGRESS_S", "30"))
META = ["*.json", "*.model", "*.tiktoken", "*.txt", "*.jinja", "*.py"]
IGNORE = ["original/*", "*.pth", "*.gguf", "*.msgpack", "*.h5", "*.onnx"]
GIB = float(1 << 30)


def cache_dir():
    home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
    return os.path.join(home, "hub", "models--" + REPO.replace("/", "--"))


def on_disk():
    total = 0
    for root, _dirs, files in os.walk(cache_dir()):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                try:
                    total += os.path.getsize(path)
                except OSError:
                    pass
    return total / GIB


def report(stop):
    start, last = time.monotonic(), on_disk()
    while not stop.wait(PROGRESS_S):
        now = on_disk()
        rate = (now - last) / PROGRESS_S
        share = f" of {{EXPECTED_GIB:.1f}} GiB ({{100 * now / EXPECTED_GIB:.0f}}%)" if EXPECTED_GIB else ""
        print(f"gpuforge-download: {{now:.1f}} GiB{{share}} after {{time.monotonic() - start:.0f}} s, "
              f"{{rate * 1024:.0f}} MiB/s", flush=True)
        last = now


def weight_patterns(files):
    """The weight files vLLM's default loader takes (see the module docstring)."""
    if any(fnmatch(os.path.basename(f), "consolidated*.safetensors") for f in files):
        return ["consolidated*.safetensors"]
    top = [f for f in files if "/" not in f]
    if "model.safetensors.index.json" in top:
        index = hf_hub_download(REPO, "model.safetensors.index.json", revision=REVISION)
        with open(index) as f:
            wanted = sorted(set(json.load(f).get("weight_map", {{}}).values()))
        if wanted:
            return wanted
    for pattern in ("*.safetensors", "*.bin", "*.pt"):
        if any(fnmatch(f, pattern) for f in top):
            return [pattern]
    return []


def main():
    print(f"gpuforge-download: {{REPO}}@{{REVISION or 'main'}} into {{cache_dir()}}"
          f" (expected {{EXPECTED_GIB:.1f}} GiB, {{on_disk():.1f}} GiB already cached)", flush=True)
    for attempt in range(1, ATTEMPTS + 1):
        stop = threading.Event()
        threading.Thread(target=report, args=(stop,), daemon=True).start()
        try:
            files = HfApi().list_repo_files(REPO, revision=REVISION)
            path = snapshot_download(
                REPO, revision=REVISION, allow_patterns=weight_patterns(files) + META, ignore_patterns=IGNORE
            )
        except (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError) as e:
            # Retrying cannot help: wrong id or revision, or the token lacks access.
            print(f"gpuforge-download: {{type(e).__name__}}: {{e}}. Check model id, revision and HF token.", flush=True)
            return 2
        except Exception as e:  # network errors, timeouts, 5xx: retry with backoff
            wait = min(600.0, BACKOFF_S * 2 ** (attempt - 1))
            print(f"gpuforge-download: attempt {{attempt}}/{{ATTEMPTS}} failed ({{type(e).__name__}}: {{e}}); "
                  f"{{on_disk():.1f}} GiB kept, retrying in {{wait:.0f}} s", flush=True)
            stop.set()
            if attempt < ATTEMPTS:
                time.sleep(wait)
            continue
        finally:
            stop.set()
        print(f"gpuforge-download: complete, {{on_disk():.1f}} GiB in {{path}}", flush=True)
        return 0
    print(f"gpuforge-download: giving up after {{ATTEMPTS}} attempts", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
'''


def scripts() -> dict[str, str]:
    """The files of the pod's scripts ConfigMap (mounted at SCRIPTS_DIR)."""
    return {"launch.sh": LAUNCH_SH, "fabric_check.py": FABRIC_CHECK_PY, "download.py": DOWNLOAD_PY}


def launch_command(argv: Sequence[str]) -> list[str]:
    """The container command: the wrapper with vLLM's argv as its arguments."""
    return ["/bin/bash", f"{SCRIPTS_DIR}/launch.sh", *argv]


def shell(argv: Sequence[str]) -> str:
    return shlex.join(argv)


__all__ = [
    "DOWNLOAD_PY",
    "EXIT_MARGIN_S",
    "EXPECTED_NCCL_NET",
    "FABRIC_CHECK_PY",
    "FABRIC_METRICS_PORT",
    "LAUNCH_SH",
    "MASTER_PORT",
    "NCCL_LOG_DIR",
    "PRESTOP_S",
    "SCRIPTS_DIR",
    "SERVED_GPU_VENDORS",
    "Launch",
    "drain_seconds",
    "launch_command",
    "multinode_problems",
    "scripts",
    "serving_support_problem",
    "termination_grace_s",
    "worker_prestop_command",
]
