"""Locked down by default: what the serving pods may do, who may reach them, how secrets travel.

The model server calls these helpers; docs/security.md explains the model and how to open it
deliberately. Every rule below names the source it follows.

- Pod security: the Kubernetes "restricted" Pod Security Standard
  (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted):
  seccomp RuntimeDefault, no privilege escalation, every capability dropped, non-root, plus a
  read-only root filesystem with writable emptyDirs where vLLM writes (HOME, caches, /tmp) and
  no service-account token (the server never calls the Kubernetes API).
- Exceptions, each forced by a real constraint: a multi-node replica on EFA / InfiniBand adds
  IPC_LOCK (RDMA pins memory) and so runs as root, because Kubernetes does not raise added
  capabilities into a non-root process's effective set (kubernetes/kubernetes#56374: no
  ambient capabilities); a `host_path` model cache is created root-owned by the kubelet
  (DirectoryOrCreate, mode 0755), which a non-root user cannot write, so it runs as root too.
- The OpenAI-compatible API requires a key: vLLM 0.19.0 vllm/entrypoints/openai/api_server.py
  (build_app) installs AuthenticationMiddleware when `--api-key` or VLLM_API_KEY is set; the
  middleware (vllm/entrypoints/openai/server_utils.py) checks `Authorization: Bearer <key>` on
  paths under /v1 only, so /health (probes) and /metrics (Prometheus) keep working.
- The Hugging Face token is a file: huggingface_hub reads HF_TOKEN_PATH
  (huggingface_hub 0.36.2 constants.py HF_TOKEN_PATH, utils/_auth.py _get_token_from_file;
  vLLM 0.19.0 needs transformers >= 4.56, which needs huggingface_hub >= 0.34, which has it).
- Network: a default-deny ingress policy per serving namespace; each server's own policy
  allows its callers, Prometheus and (multi-node) its own pods. Egress to the instance
  metadata service (169.254.169.254) is denied: its credentials belong to the node.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuforge.k8s.manifests import instance_labels

# The vllm/vllm-openai image declares no USER (it runs as root unless told otherwise); any UID
# works once HOME and the caches point at writable volumes. Above 10000 so it never matches a
# user of the node (checkov CKV_K8S_40); fsGroup makes emptyDir and most PVC mounts writable.
RUN_AS_USER = 10001
RUN_AS_GROUP = 10001
HOME = "/home/vllm"
TMP = "/tmp"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
HF_TOKEN_FILE = f"{HF_TOKEN_DIR}/token"
API_KEY_LENGTH = 48
IMDS_CIDR = "169.254.169.254/32"  # AWS and Azure instance metadata service


def needs_root(multi_node_rdma: bool, host_path_cache: bool) -> str | None:
    """Why a server cannot run as non-root, or None when it can (see module docstring)."""
    if multi_node_rdma:
        return "RDMA needs IPC_LOCK, which Kubernetes grants only to root processes"
    if host_path_cache:
        return "the kubelet creates the host_path cache root-owned"
    return None


def pod_security_context(non_root: bool) -> dict[str, Any]:
    ctx: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if non_root:
        ctx.update(runAsNonRoot=True, runAsUser=RUN_AS_USER, runAsGroup=RUN_AS_GROUP, fsGroup=RUN_AS_GROUP)
    return ctx


def container_security_context(non_root: bool, add_capabilities: tuple[str, ...] = ()) -> dict[str, Any]:
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if add_capabilities:
        caps["add"] = list(add_capabilities)
    ctx: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": caps,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if non_root:
        ctx.update(runAsNonRoot=True, runAsUser=RUN_AS_USER, runAsGroup=RUN_AS_GROUP)
    return ctx


def writable_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """emptyDirs for what vLLM writes when the root filesystem is read-only: /tmp (Ray's
    session dir, vLLM's RPC sockets: VLLM_RPC_BASE_PATH = tempfile.gettempdir()) and HOME
    (torch.compile, Triton, FlashInfer and vLLM caches under XDG_CACHE_HOME)."""
    volumes = [{"name": "tmp", "emptyDir": {}}, {"name": "home", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": TMP}, {"name": "home", "mountPath": HOME}]
    return volumes, mounts


def writable_env() -> list[dict[str, str]]:
    """Point every cache at the writable HOME (vLLM 0.19.0 envs.py: VLLM_CACHE_ROOT and
    VLLM_CONFIG_ROOT follow XDG_CACHE_HOME / XDG_CONFIG_HOME). USER names the arbitrary UID,
    which has no /etc/passwd entry: getpass.getuser() (torch inductor's cache dir, Ray) reads
    it first."""
    return [
        {"name": "HOME", "value": HOME},
        {"name": "USER", "value": "vllm"},
        {"name": "XDG_CACHE_HOME", "value": f"{HOME}/.cache"},
        {"name": "XDG_CONFIG_HOME", "value": f"{HOME}/.config"},
        {"name": "TRITON_CACHE_DIR", "value": f"{HOME}/.triton"},
        {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{HOME}/.cache/torchinductor"},
    ]


def hf_token_volume(secret_name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(volume, mount, env) that put the token at HF_TOKEN_FILE, readable by the pod's group."""
    volume = {
        "name": "hf-token",
        "secret": {"secretName": secret_name, "items": [{"key": "token", "path": "token"}], "defaultMode": 0o440},
    }
    mount = {"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True}
    return volume, mount, {"name": "HF_TOKEN_PATH", "value": HF_TOKEN_FILE}


def api_key_env(secret_name: str) -> dict[str, Any]:
    """VLLM_API_KEY from the Secret (vLLM reads the key from its flag or this variable only)."""
    return {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "api-key"}}}


def generated_api_key(name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A random API key, generated once and kept in the stack state as a secret."""
    import pulumi_random as random

    password = random.RandomPassword(name, length=API_KEY_LENGTH, special=False, opts=opts)
    return pulumi.Output.secret(password.result)


def api_key_secret(name: str, secret_name: str, namespace: str, app: str, key: pulumi.Input[str], opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    return k8s.core.v1.Secret(
        name,
        metadata={"name": secret_name, "namespace": namespace, "labels": instance_labels(app)},
        type="Opaque",
        string_data={"api-key": pulumi.Output.secret(key)},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )


def default_deny_spec() -> dict[str, Any]:
    """Every pod of the namespace: no ingress unless another policy allows it; no egress to the
    instance metadata service (its credentials are the node's)."""
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [
            # in-cluster peers: DNS, the other pods of a multi-node group
            {"to": [{"namespaceSelector": {}}]},
            # everything outside the cluster (the Hugging Face Hub, image registries) but IMDS
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [IMDS_CIDR]}}]},
        ],
    }


def default_deny_policy(name: str, namespace: str, opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata={"name": "default-deny", "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "gpuforge"}},
        spec=default_deny_spec(),
        opts=opts,
    )


def serving_namespace_labels() -> dict[str, str]:
    """Pod Security Admission warns and audits against `restricted` (enforcing it would refuse
    the documented root exceptions: multi-node RDMA, host_path caches)."""
    return {
        "app.kubernetes.io/managed-by": "gpuforge",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
