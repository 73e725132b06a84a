"""Checks shared by the AWS args classes; each returns Problems, none raises."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from gpuforge import catalog
from gpuforge.catalog import InstanceType, Region
from gpuforge.errors import Problem

_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


def lookup_region(path: str, name: str) -> tuple[Region | None, list[Problem]]:
    """The catalog region `name`, or a Problem naming the nearest known regions."""
    try:
        return catalog.get_region("aws", name), []
    except KeyError:
        names = [r.name for r in catalog.all_regions("aws")]
        near = catalog.nearest(name, names)
        return None, [
            Problem(
                path,
                f"{name!r} is not an AWS region the catalog knows",
                f"use one of: {', '.join(near or names)}",
            )
        ]


def lookup_instance(path: str, name: str) -> tuple[InstanceType | None, list[Problem]]:
    """The catalog AWS instance type `name`, or a Problem naming the nearest known types."""
    try:
        return catalog.get_instance(name, "aws"), []
    except KeyError:
        names = [i.name for i in catalog.all_instances("aws")]
        near = catalog.nearest(name, names)
        return None, [
            Problem(
                path,
                f"{name!r} is not an AWS GPU instance type the catalog knows",
                f"use an exact EC2 name, e.g. {', '.join(near) if near else ', '.join(sorted(names)[:3])}",
            )
        ]


def zone_problems(path: str, zone: str, region: Region | None) -> list[Problem]:
    """A Problem when `zone` is not one of the region's availability zones."""
    if region is None or zone in region.zones:
        return []
    return [
        Problem(
            path,
            f"{zone!r} is not an availability zone of {region.name}",
            f"pick one of: {', '.join(region.zones)}",
        )
    ]


def arn_problems(path: str, arns: Iterable[str]) -> list[Problem]:
    """Problems for strings that are not IAM role or user ARNs."""
    return [
        Problem(
            f"{path}[{i}]",
            f"{arn!r} is not an IAM role or user ARN",
            "write it as arn:aws:iam::<12-digit account>:role/<name> (or :user/<name>)",
        )
        for i, arn in enumerate(arns)
        if not _ARN.match(arn)
    ]


def cidr_problems(path: str, cidrs: Iterable[str]) -> list[Problem]:
    """Problems for strings that are not IPv4 CIDR blocks."""
    out = []
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as err:
            out.append(Problem(f"{path}[{i}]", f"{cidr!r} is not an IPv4 CIDR block ({err})", "write it as a.b.c.d/n"))
    return out


def label_value(text: str) -> str:
    """`text` made into a valid Kubernetes label value (<= 63 chars, [A-Za-z0-9._-], alnum ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return value.strip("-._") or "none"
