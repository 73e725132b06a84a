"""gpuforge.azure.Network under Pulumi mocks: new or existing resource group, new VNet or an
adopted subnet, and refused inputs."""

from __future__ import annotations

import asyncio

import pulumi
import pytest
from gpuforge.azure import Network, NetworkArgs
from gpuforge.errors import SpecError

RG = "azure-native:resources:ResourceGroup"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
SUBNET_ID = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net/providers/"
             "Microsoft.Network/virtualNetworks/hub/subnets/aks-nodes")


def value(output: pulumi.Output):
    return asyncio.get_event_loop().run_until_complete(output.future())


def test_new_resource_group_vnet_and_node_subnet(pulumi_mocks):
    net = Network("net-new", NetworkArgs(location="eastus2", tags={"app": "llm"}))
    pulumi_mocks.wait(net, net.resource_group, net.vnet, net.subnet)
    rg = pulumi_mocks.one(RG, "net-new")
    vnet = pulumi_mocks.one(VNET, "net-new-vnet")
    subnet = pulumi_mocks.one(SUBNET, "net-new-nodes")
    assert {r.parent for r in (rg, vnet, subnet)} == {"net-new"}
    assert rg.inputs == {"location": "eastus2", "tags": {"app": "llm"}}
    assert vnet.inputs["resourceGroupName"] == "net-new"
    assert vnet.inputs["addressSpace"] == {"addressPrefixes": ["10.224.0.0/16"]}
    assert "subnets" not in vnet.inputs  # the Subnet resource owns them
    assert subnet.inputs["virtualNetworkName"] == "net-new-vnet"
    assert subnet.inputs["addressPrefix"] == "10.224.0.0/20"
    assert value(net.resource_group_name) == "net-new"
    assert value(net.node_subnet_id) == "net-new-nodes-id"


def test_existing_resource_group_by_name(pulumi_mocks):
    net = Network("net-rg", NetworkArgs(location="westus3", resource_group_name="shared-rg", create_resource_group=False,
                                        vnet_cidr="10.10.0.0/16", node_subnet_cidr="10.10.16.0/20"))
    pulumi_mocks.wait(net, net.vnet, net.subnet)
    assert pulumi_mocks.of_type(RG) == []
    assert pulumi_mocks.one(VNET, "net-rg-vnet").inputs["resourceGroupName"] == "shared-rg"
    assert pulumi_mocks.one(SUBNET, "net-rg-nodes").inputs["addressPrefix"] == "10.10.16.0/20"
    assert value(net.resource_group_name) == "shared-rg"


def test_adopted_subnet_creates_no_network(pulumi_mocks):
    net = Network("net-adopt", NetworkArgs(location="eastus", resource_group_name="aks-rg", create_resource_group=False,
                                           existing_subnet_id=SUBNET_ID))
    pulumi_mocks.wait(net)
    assert pulumi_mocks.of_type(VNET) == [] and pulumi_mocks.of_type(SUBNET) == [] and pulumi_mocks.of_type(RG) == []
    assert value(net.node_subnet_id) == SUBNET_ID
    assert value(net.vnet_id) == SUBNET_ID.split("/subnets/")[0]  # the scope of the cluster identity's role


def test_named_resource_group_of_a_new_cluster_is_created(pulumi_mocks):
    # A new cluster's group must exist before anything goes in it (else ResourceGroupNotFound).
    net = Network("net-named", NetworkArgs(location="eastus", resource_group_name="rg-gpuforge"))
    pulumi_mocks.wait(net, net.vnet, net.subnet)
    rg = pulumi_mocks.one(RG, "net-named")
    assert rg.inputs == {"resourceGroupName": "rg-gpuforge", "location": "eastus"}
    assert pulumi_mocks.one(VNET, "net-named-vnet").inputs["resourceGroupName"] == "rg-gpuforge"


def test_using_an_existing_group_needs_its_name(pulumi_mocks):
    with pytest.raises(SpecError) as err:
        Network("net-x", NetworkArgs(location="eastus", create_resource_group=False))
    assert "network.resource_group_name" in str(err.value)


BAD = [
    (dict(location="East US"), "network.location", "not an Azure region name", "eastus2"),
    (dict(resource_group_name="rg."), "network.resource_group_name", "not a valid resource group name", "not ending in '.'"),
    (dict(existing_subnet_id="aks-nodes"), "network.existing_subnet_id", "not a subnet resource id", "az network vnet subnet show"),
    (dict(vnet_cidr="10.224.0.0/33"), "network.vnet_cidr", "not a CIDR block", "a.b.c.d/n"),
    (dict(vnet_cidr="52.0.0.0/16", node_subnet_cidr="52.0.0.0/20"), "network.vnet_cidr", "not a private IPv4 range", "RFC 1918"),
    (dict(node_subnet_cidr="10.225.0.0/20"), "network.node_subnet_cidr", "outside the VNet 10.224.0.0/16", "10.224.0.0/20"),
    (dict(node_subnet_cidr="10.224.0.0/29"), "network.node_subnet_cidr", "too few node addresses", "/28"),
]


@pytest.mark.parametrize("change, path, reason, fix", BAD)
def test_bad_network_input_is_refused_before_anything_is_registered(pulumi_mocks, change, path, reason, fix):
    with pytest.raises(SpecError) as err:
        Network("net-bad", NetworkArgs(**{"location": "eastus2", **change}))
    hits = [p for p in err.value.problems if p.path == path and reason in p.reason]
    assert hits, f"no problem at {path} with {reason!r} in:\n{err.value}"
    assert fix in hits[0].fix
    assert pulumi_mocks.resources == []
