"""Network under Pulumi mocks: a new VPC over several zones, or an adopted one."""

from __future__ import annotations

from gpuforge.aws import Network, NetworkArgs
from test_aws_mocks import aws_mocks, pool_plan  # noqa: F401  (fixture)

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def test_new_vpc_subnets_tags_and_cidrs(aws_mocks):
    net = Network("vpc1", NetworkArgs("llm", "us-east-1", zones=ZONES))
    aws_mocks.settle(net)
    vpc = aws_mocks.one("aws:ec2/vpc:Vpc", "vpc1")
    assert vpc.parent == "vpc1"
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    assert vpc.inputs["enableDnsHostnames"] is True and vpc.inputs["enableDnsSupport"] is True
    private = {r.inputs["availabilityZone"]: r for r in aws_mocks.of_type(SUBNET) if "-private-" in r.name}
    public = {r.inputs["availabilityZone"]: r for r in aws_mocks.of_type(SUBNET) if "-public-" in r.name}
    assert set(private) == set(public) == set(ZONES)
    assert [private[z].inputs["cidrBlock"] for z in ZONES] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert [public[z].inputs["cidrBlock"] for z in ZONES] == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]
    for z in ZONES:
        assert private[z].name == f"vpc1-private-{z}" and private[z].parent == "vpc1"
        assert private[z].inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert private[z].inputs["tags"]["kubernetes.io/cluster/llm"] == "shared"
        assert "kubernetes.io/role/elb" not in private[z].inputs["tags"]
        assert public[z].inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert public[z].inputs["tags"]["kubernetes.io/cluster/llm"] == "shared"
        assert public[z].inputs["mapPublicIpOnLaunch"] is False
    assert net.zones == ZONES
    assert aws_mocks.resolve(net.private_subnet_ids_by_zone["us-east-1b"]) == "vpc1-private-us-east-1b-id"
    assert [aws_mocks.resolve(s) for s in net.private_subnet_ids] == [f"vpc1-private-{z}-id" for z in ZONES]
    assert aws_mocks.resolve(net.vpc_id) == "vpc1-id"


def test_new_vpc_nat_per_zone_and_routes(aws_mocks):
    net = Network("vpc2", NetworkArgs("llm", "us-east-1", zones=ZONES))
    aws_mocks.settle(net)
    nats = {r.name: r for r in aws_mocks.of_type(NAT)}
    assert set(nats) == {f"vpc2-{z}" for z in ZONES}
    for z in ZONES:
        assert nats[f"vpc2-{z}"].inputs["subnetId"] == f"vpc2-public-{z}-id"  # NAT sits in the public subnet
        assert nats[f"vpc2-{z}"].inputs["allocationId"] == f"vpc2-nat-{z}-id"
        route = aws_mocks.one(ROUTE, f"vpc2-private-{z}-nat")
        assert route.inputs == {
            "routeTableId": f"vpc2-private-{z}-id",
            "destinationCidrBlock": "0.0.0.0/0",
            "natGatewayId": f"vpc2-{z}-id",
        }
    internet = aws_mocks.one(ROUTE, "vpc2-public-internet")
    assert internet.inputs["gatewayId"] == "vpc2-igw-id" and internet.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    s3 = aws_mocks.one("aws:ec2/vpcEndpoint:VpcEndpoint", "vpc2-s3")
    assert s3.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert sorted(s3.inputs["routeTableIds"]) == sorted(f"vpc2-private-{z}-id" for z in ZONES)


def test_single_nat_gateway_option(aws_mocks):
    net = Network("vpc3", NetworkArgs("llm", "us-east-1", zones=ZONES[:2], nat_per_zone=False, s3_gateway_endpoint=False))
    aws_mocks.settle(net)
    assert [r.name for r in aws_mocks.of_type(NAT)] == ["vpc3-us-east-1a"]
    for z in ZONES[:2]:
        assert aws_mocks.one(ROUTE, f"vpc3-private-{z}-nat").inputs["natGatewayId"] == "vpc3-us-east-1a-id"
    assert not aws_mocks.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")


def test_adopted_vpc_creates_nothing(aws_mocks):
    args = NetworkArgs(
        "llm",
        "us-west-2",
        vpc_id="vpc-0given",
        private_subnet_ids_by_zone={"us-west-2a": "subnet-a", "us-west-2b": "subnet-b"},
        public_subnet_ids=["subnet-pa"],
    )
    net = Network("adopted", args)
    aws_mocks.settle(net)
    assert [r.type for r in aws_mocks.resources] == ["gpuforge:aws:Network"]
    assert aws_mocks.resolve(net.vpc_id) == "vpc-0given"
    assert net.zones == ("us-west-2a", "us-west-2b")
    assert [aws_mocks.resolve(s) for s in net.private_subnet_ids] == ["subnet-a", "subnet-b"]
    assert [aws_mocks.resolve(s) for s in net.public_subnet_ids] == ["subnet-pa"]


def test_from_plan_puts_the_pool_zone_first():
    args = NetworkArgs.from_plan(pool_plan(zone="us-east-1d"), "llm")
    assert args.zones == ("us-east-1d", "us-east-1a", "us-east-1b")
    assert args.region == "us-east-1" and args.problems() == []
    spread = NetworkArgs.from_plan(pool_plan(zones=("us-east-1c", "us-east-1f")), "llm")
    assert spread.zones == ("us-east-1c", "us-east-1f", "us-east-1a")
