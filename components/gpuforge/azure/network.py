"""Network: the resource group and the node subnet an AKS cluster lives in."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.resources as resources

from gpuforge.errors import Problem, SpecError

# /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>
SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
# Resource group names: 1-90 of alphanumerics, underscore, parentheses, hyphen, period; not
# ending in a period (ResourceGroup.resource_group_name docstring in the pinned SDK).
RESOURCE_GROUP_NAME = re.compile(r"^[-\w().]{0,89}[-\w()]$")


@dataclass
class NetworkArgs:
    """Where the cluster's nodes get their addresses.

    Attributes:
        location: Azure region, e.g. `eastus2`.
        resource_group_name: the resource group's name; None creates one with a generated name.
        create_resource_group: create `resource_group_name` here (a new cluster's group); False
            uses an existing group of that name (it must exist before `pulumi up`).
        existing_subnet_id: adopt this subnet for the nodes instead of creating a VNet.
        vnet_cidr: address space of a new VNet.
        node_subnet_cidr: node subnet inside `vnet_cidr`. With Azure CNI overlay only nodes
            take addresses from it (pods use the overlay CIDR), so a /20 holds 4,091 nodes.
        tags: tags for every resource created here.
    """

    location: str
    resource_group_name: str | None = None
    create_resource_group: bool = True
    existing_subnet_id: str | None = None
    vnet_cidr: str = "10.224.0.0/16"
    node_subnet_cidr: str = "10.224.0.0/20"
    tags: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        if not re.fullmatch(r"[a-z0-9]+", self.location or ""):
            out.append(Problem("network.location", f"{self.location!r} is not an Azure region name",
                               "use the lowercase region name, e.g. eastus2 (az account list-locations -o table)"))
        if self.resource_group_name is not None and not RESOURCE_GROUP_NAME.fullmatch(self.resource_group_name):
            out.append(Problem("network.resource_group_name", f"{self.resource_group_name!r} is not a valid resource group name",
                               "use 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"))
        if not self.create_resource_group and self.resource_group_name is None:
            out.append(Problem("network.resource_group_name", "an existing resource group is to be used but none is named",
                               "name it, or let the stack create one (create_resource_group=True)"))
        if self.existing_subnet_id is not None:
            if not SUBNET_ID.fullmatch(self.existing_subnet_id):
                out.append(Problem("network.existing_subnet_id", f"{self.existing_subnet_id!r} is not a subnet resource id",
                                   "pass the full id: /subscriptions/<id>/resourceGroups/<rg>/providers/"
                                   "Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet> (az network vnet subnet show --query id)"))
            return out
        vnet = _cidr(self.vnet_cidr, "network.vnet_cidr", out)
        subnet = _cidr(self.node_subnet_cidr, "network.node_subnet_cidr", out)
        if vnet and subnet and not subnet.subnet_of(vnet):
            out.append(Problem("network.node_subnet_cidr", f"{self.node_subnet_cidr} is outside the VNet {self.vnet_cidr}",
                               f"pick a node subnet inside {self.vnet_cidr}, e.g. {next(vnet.subnets(new_prefix=max(vnet.prefixlen, 20)))}"))
        if subnet and subnet.prefixlen > 28:
            out.append(Problem("network.node_subnet_cidr", f"{self.node_subnet_cidr} leaves too few node addresses",
                               "use a /28 or larger (Azure reserves 5 addresses per subnet)"))
        return out


def _cidr(text: str, path: str, out: list[Problem]) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(text)
    except ValueError as e:
        out.append(Problem(path, f"{text!r} is not a CIDR block ({e})", "write it as a.b.c.d/n, e.g. 10.224.0.0/16"))
        return None
    if not isinstance(net, ipaddress.IPv4Network) or not net.is_private:
        out.append(Problem(path, f"{text} is not a private IPv4 range", "use an RFC 1918 range such as 10.224.0.0/16"))
        return None
    return net


class Network(pulumi.ComponentResource):
    """A resource group (new or existing) and a node subnet (new VNet, or an adopted subnet)."""

    resource_group_name: pulumi.Output[str]
    node_subnet_id: pulumi.Output[str]
    location: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        problems = args.problems()
        if problems:
            raise SpecError(f"Network {name!r}", problems)
        super().__init__("gpuforge:azure:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.location = args.location

        self.resource_group: resources.ResourceGroup | None = None
        if args.create_resource_group:
            # A new cluster's group: without it the first resource fails with ResourceGroupNotFound.
            self.resource_group = resources.ResourceGroup(
                name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                tags=args.tags or None,
                opts=child,
            )
            named = args.resource_group_name
            # Keep the dependency on the group (everything in it waits for its creation).
            self.resource_group_name = (
                self.resource_group.id.apply(lambda _: named) if named is not None else self.resource_group.name
            )
        else:
            assert args.resource_group_name is not None  # problems() refuses an unnamed existing group
            self.resource_group_name = pulumi.Output.from_input(args.resource_group_name)

        self.vnet: network.VirtualNetwork | None = None
        self.subnet: network.Subnet | None = None
        self.vnet_id: pulumi.Output[str] | None = None
        if args.existing_subnet_id is not None:
            self.node_subnet_id = pulumi.Output.from_input(args.existing_subnet_id)
            self.vnet_id = pulumi.Output.from_input(args.existing_subnet_id.split("/subnets/")[0])
        else:
            vnet = network.VirtualNetwork(
                f"{name}-vnet",
                resource_group_name=self.resource_group_name,
                location=args.location,
                address_space=network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
                tags=args.tags or None,
                opts=child,
            )
            # A separate Subnet resource: pulumi-azure-native keeps subnets it is not told about
            # when the VNet itself changes (pulumi/pulumi-azure-native#611).
            subnet = network.Subnet(
                f"{name}-nodes",
                resource_group_name=self.resource_group_name,
                virtual_network_name=vnet.name,
                address_prefix=args.node_subnet_cidr,
                opts=child,
            )
            self.vnet, self.subnet = vnet, subnet
            self.vnet_id = vnet.id
            self.node_subnet_id = subnet.id

        self.register_outputs({
            "resource_group_name": self.resource_group_name,
            "node_subnet_id": self.node_subnet_id,
            "vnet_id": self.vnet_id,
        })
