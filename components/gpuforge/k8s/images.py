"""Serving images and what each can run (accelerator, fabric plugins, Ray). Chosen 2026-11-30.

A ModelServer refuses a layout its image cannot run: a multi-node replica on EFA needs
libfabric + aws-ofi-nccl in the image; an AMD GPU needs a ROCm build; the Ray executor needs Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gpuforge.k8s.versions import VLLM_IMAGE
from gpuforge.sizing.versions import VLLM_VERSION

Accelerator = Literal["cuda", "rocm"]


@dataclass(frozen=True)
class ServingImage:
    """A vLLM server image and the facts about it the serving code checks.

    Attributes:
        ref: image reference (tag or digest).
        accelerator: `cuda` (NVIDIA) or `rocm` (AMD).
        vllm_version: the vLLM release inside (must be the one sizing is calibrated to).
        efa: libfabric with the EFA provider and the aws-ofi-nccl NCCL plugin are installed.
        ibverbs: libibverbs (rdma-core) is installed, so NCCL's own IB transport can load.
        ray: Ray is installed (only needed for `--distributed-executor-backend ray`).
        source: where the facts come from.
    """

    ref: str
    accelerator: Accelerator
    vllm_version: str
    efa: bool = False
    ibverbs: bool = False
    ray: bool = False
    source: str = ""

    def supports_fabric(self, fabric: str) -> bool:
        if fabric == "efa":
            return self.efa
        if fabric == "infiniband":
            return self.ibverbs
        return True


# vllm-project publishes the OpenAI-compatible server as `vllm/vllm-openai:v<version>` (Docker
# Hub; ENTRYPOINT ["vllm", "serve"]). Its final stage installs `libibverbs-dev` with Python
# (vllm-project/vllm docker/Dockerfile, `vllm-base` stage; read at a commit before v0.19.0, not
# re-checked at the tag), so NCCL's IB transport loads; it has no libfabric / aws-ofi-nccl and,
# since vllm-project/vllm#36170, no Ray (the 0.19.0 wheel's METADATA requires no `ray`).
VLLM_CUDA = ServingImage(
    ref=VLLM_IMAGE,  # tag@digest (gpuforge.k8s.versions names where the digest comes from)
    accelerator="cuda",
    vllm_version=VLLM_VERSION,
    efa=False,
    ibverbs=True,
    ray=False,
    source="vllm-project/vllm docker/Dockerfile; vllm 0.19.0 wheel METADATA",
)

# ROCm builds of each release, published since v0.14 as `vllm/vllm-openai-rocm:v<version>`
# (Docker Hub); ROCm/rocm-aic recipes/vllm-lmcache-hipfile builds on `vllm/vllm-openai-rocm:v0.19.0`.
VLLM_ROCM = ServingImage(
    ref=f"vllm/vllm-openai-rocm:v{VLLM_VERSION}",
    accelerator="rocm",
    vllm_version=VLLM_VERSION,
    efa=False,
    ibverbs=True,
    ray=False,
    source="Docker Hub vllm/vllm-openai-rocm; ROCm/rocm-aic recipes/vllm-lmcache-hipfile/README.md",
)

# The EFA image is built from images/vllm-efa/Dockerfile in this repository: the pinned stock
# image plus the AWS EFA installer's user-space (libfabric with the efa provider, aws-ofi-nccl),
# without kernel modules (the EKS AL2023 NVIDIA AMI loads the EFA driver on the node).
EFA_DOCKERFILE = "images/vllm-efa/Dockerfile"
# EC2 UG efa-changelog: 1.51.0 (2026-10-22) ships libfabric 2.7.0amzn2.0, rdma-core 65.0 and the
# Amazon OFI NCCL plugin (aws-ofi-nccl) 1.22.0.
EFA_INSTALLER_VERSION = "1.51.0"


def efa_image(ref: str) -> ServingImage:
    """The image built from `images/vllm-efa/Dockerfile` and pushed to `ref`."""
    return ServingImage(
        ref=ref,
        accelerator="cuda",
        vllm_version=VLLM_VERSION,
        efa=True,
        ibverbs=True,
        ray=False,
        source=EFA_DOCKERFILE,
    )


def default_image(accelerator: Accelerator) -> ServingImage:
    return VLLM_ROCM if accelerator == "rocm" else VLLM_CUDA


__all__ = ["EFA_DOCKERFILE", "VLLM_CUDA", "VLLM_ROCM", "ServingImage", "default_image", "efa_image"]
