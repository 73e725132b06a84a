"""A VPC for an EKS cluster: private node subnets behind NAT, public subnets for load balancers."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from gpuforge import catalog
from gpuforge.aws._validation import lookup_region, zone_problems
from gpuforge.errors import Problem, SpecError
from gpuforge.plan import NodePoolPlan

DEFAULT_CIDR = "10.0.0.0/16"
DEFAULT_ZONE_COUNT = 3


@dataclass
class NetworkArgs:
    """What `Network` builds, or which existing VPC and subnets it adopts.

    A new VPC spans `zones` (two or more). Its CIDR is split into eight blocks three bits
    longer: one private block per zone (a /19 of a /16: room for many pod IPs under the VPC
    CNI) and the last block cut again into public subnets. To adopt a VPC, set `vpc_id` and
    `private_subnet_ids_by_zone` (and `public_subnet_ids` if load balancers need them); those
    subnets must already carry the EKS tags listed in docs/aws.md.

    Attributes:
        cluster_name: the EKS cluster the subnets are tagged for (`kubernetes.io/cluster/<name>`).
        region: AWS region, checked against the catalog.
        zones: availability zones of a new VPC, in order.
        cidr: IPv4 block of a new VPC, /16 to /20.
        nat_per_zone: one NAT gateway per zone (no cross-zone dependency) instead of one shared.
        s3_gateway_endpoint: add a free S3 gateway endpoint so weights pulled from S3 skip NAT.
        vpc_id: adopt this VPC instead of creating one.
        private_subnet_ids_by_zone: adopted private subnets, keyed by zone.
        public_subnet_ids: adopted public subnets.
        tags: added to every resource.
    """

    cluster_name: str
    region: str
    zones: Sequence[str] = ()
    cidr: str = DEFAULT_CIDR
    nat_per_zone: bool = True
    s3_gateway_endpoint: bool = True
    vpc_id: pulumi.Input[str] | None = None
    private_subnet_ids_by_zone: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    public_subnet_ids: Sequence[pulumi.Input[str]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def adopting(self) -> bool:
        return self.vpc_id is not None

    @classmethod
    def from_plan(cls, pool: NodePoolPlan, cluster_name: str, **overrides) -> NetworkArgs:
        """A new VPC in the plan's region whose zones include every zone the pool uses.

        The pool's zone comes first, then its spread zones, then the region's other zones,
        up to three (or more when the plan spreads over more).
        """
        wanted = [z for z in (pool.zone, *pool.zones) if z]
        try:
            region_zones = list(catalog.get_region("aws", pool.region).zones)
        except KeyError:
            region_zones = []
        zones = list(dict.fromkeys(wanted))
        for z in region_zones:
            if len(zones) >= max(DEFAULT_ZONE_COUNT, len(wanted)):
                break
            if z not in zones:
                zones.append(z)
        kwargs: dict[str, Any] = {"cluster_name": cluster_name, "region": pool.region, "zones": tuple(zones)}
        kwargs.update(overrides)
        return cls(**kwargs)

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        region, found = lookup_region("region", self.region)
        out += found
        if self.adopting:
            if self.zones:
                out.append(
                    Problem(
                        "zones",
                        f"zones {list(self.zones)} are set while adopting VPC; the zones are the keys of private_subnet_ids_by_zone",
                        "drop zones, or drop vpc_id to build a new VPC",
                    )
                )
            if len(self.private_subnet_ids_by_zone) < 2:
                out.append(
                    Problem(
                        "private_subnet_ids_by_zone",
                        f"{len(self.private_subnet_ids_by_zone)} zone(s) given; EKS needs subnets in at least two zones",
                        "map two or more zones to private subnet ids",
                    )
                )
            for zone in self.private_subnet_ids_by_zone:
                out += zone_problems(f"private_subnet_ids_by_zone.{zone}", zone, region)
            return out
        if self.private_subnet_ids_by_zone or self.public_subnet_ids:
            out.append(
                Problem(
                    "vpc_id",
                    "subnet ids are given without vpc_id",
                    "set vpc_id to adopt an existing VPC, or drop the subnet ids to build a new one",
                )
            )
        if len(self.zones) < 2:
            hint = ", ".join(region.zones[:DEFAULT_ZONE_COUNT]) if region else "two zones of the region"
            out.append(
                Problem("zones", f"{len(self.zones)} zone(s) given; EKS needs two or more", f"list at least two, e.g. {hint}")
            )
        if len(set(self.zones)) != len(self.zones):
            out.append(Problem("zones", f"{list(self.zones)} repeats a zone", "list each zone once"))
        for i, zone in enumerate(self.zones):
            out += zone_problems(f"zones[{i}]", zone, region)
        try:
            net = ipaddress.IPv4Network(self.cidr, strict=True)
        except ValueError as err:
            out.append(Problem("cidr", f"{self.cidr!r} is not an IPv4 CIDR block ({err})", "write it as a.b.c.d/n, e.g. 10.0.0.0/16"))
        else:
            if not 16 <= net.prefixlen <= 20:
                out.append(
                    Problem("cidr", f"/{net.prefixlen} is outside /16../20", "use a /16 (default) up to a /20 VPC block")
                )
            if len(self.zones) > 7:
                out.append(Problem("zones", f"{len(self.zones)} zones; the CIDR split holds at most 7", "use 7 zones or fewer"))
        return out

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(private, public) CIDR blocks, one of each per zone, in zone order."""
        net = ipaddress.IPv4Network(self.cidr)
        blocks = list(net.subnets(prefixlen_diff=3))
        private = [str(b) for b in blocks[: len(self.zones)]]
        public = [str(b) for b in list(blocks[-1].subnets(prefixlen_diff=3))[: len(self.zones)]]
        return private, public


class Network(pulumi.ComponentResource):
    """A VPC over two or more zones, or an adopted one, tagged for EKS and its load balancers.

    Attributes:
        vpc_id: the VPC.
        private_subnet_ids: node subnets, in zone order (a list, so its length is known).
        private_subnet_ids_by_zone: zone -> node subnet id; plain dict with known keys, so a
            one-zone GPU pool can pick its subnet.
        public_subnet_ids: public subnets (internet-facing load balancers, NAT gateways).
        zones: the zones, in order.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids_by_zone: dict[str, pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    zones: tuple[str, ...]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"Network {name!r}", problems)
        super().__init__("gpuforge:aws:Network", name, None, opts)

        if args.vpc_id is not None:  # adopting an existing VPC
            self.zones = tuple(args.private_subnet_ids_by_zone)
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.private_subnet_ids_by_zone = {
                z: pulumi.Output.from_input(s) for z, s in args.private_subnet_ids_by_zone.items()
            }
            self.public_subnet_ids = [pulumi.Output.from_input(s) for s in args.public_subnet_ids]
        else:
            self._build(name, args)
        self.private_subnet_ids = list(self.private_subnet_ids_by_zone.values())
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _build(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        base = dict(args.tags)
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        self.zones = tuple(args.zones)

        vpc = aws.ec2.Vpc(
            name,
            cidr_block=args.cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and nodes need DNS hostnames
            enable_dns_support=True,
            tags={**base, "Name": name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={**base, "Name": name}, opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags={**base, "Name": f"{name}-public"}, opts=child)
        aws.ec2.Route(
            f"{name}-public-internet",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        private_cidrs, public_cidrs = args.subnet_cidrs()
        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: dict[str, aws.ec2.Subnet] = {}
        nats: list[aws.ec2.NatGateway] = []
        private_rts: list[aws.ec2.RouteTable] = []
        for i, zone in enumerate(args.zones):
            pub = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=public_cidrs[i],
                map_public_ip_on_launch=False,
                tags={**base, **cluster_tag, "Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            public_subnets.append(pub)
            private_subnets[zone] = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=private_cidrs[i],
                tags={**base, **cluster_tag, "Name": f"{name}-private-{zone}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            if args.nat_per_zone or i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={**base, "Name": f"{name}-nat-{zone}"}, opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-{zone}",
                        allocation_id=eip.id,
                        subnet_id=pub.id,
                        tags={**base, "Name": f"{name}-{zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=vpc.id, tags={**base, "Name": f"{name}-private-{zone}"}, opts=child
            )
            aws.ec2.Route(
                f"{name}-private-{zone}-nat",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[-1].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private_subnets[zone].id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)

        if args.s3_gateway_endpoint:
            aws.ec2.VpcEndpoint(
                f"{name}-s3",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=[rt.id for rt in private_rts],
                tags={**base, "Name": f"{name}-s3"},
                opts=child,
            )

        self.vpc_id = vpc.id
        self.private_subnet_ids_by_zone = {z: s.id for z, s in private_subnets.items()}
        self.public_subnet_ids = [s.id for s in public_subnets]
