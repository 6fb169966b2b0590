"""Egress per trader (issue 16): one Squid forward proxy with one Elastic IP per egress group.

Why (SEBI retail-algo framework, in force 1 Apr 2026): a broker accepts API orders only from the
static IP registered for the API key, and an IP may be shared only within a family. One NAT
gateway IP for every trader of a deployment violates that as soon as two unrelated traders use
it. Design and cost (bench/cost.py ``egress_cost``; shared_utils/egress for the runtime side):

- ONE ENI in the first public subnet holds one private IP per group (fixed addresses from the
  subnet's CIDR, ``.10`` upwards, so the broker-calling functions of every stack know them
  without cross-stack tokens); each private IP is associated with the group's Elastic IP.
- Squid listens on port ``3128 + i`` for group ``i`` and sends that port's traffic out of
  private IP ``i`` (``acl g<i> myportname g<i>`` + ``tcp_outgoing_address``), i.e. from the
  group's Elastic IP. Only CONNECT to port 443 of the brokers' API domains is allowed, only
  from inside the VPC; HTTPS stays end to end (the proxy never sees a token). No caching, no
  access log (no order data at rest on the instance).
- Amazon Linux 2023 (arm64) configures the ENI's secondary private IPs itself
  (amazon-ec2-net-utils). The instance is recovered in place by a CloudWatch alarm on the
  system status check (same ENI, same IPs, same EIPs), so the registered IPs survive a
  hardware failure; IMDSv2 only; encrypted root volume; SSM for administration (no SSH).
- Instance type by group count (IPv4 addresses per ENI): t4g.nano 2, t4g.small 4, t4g.medium 6,
  t4g.xlarge 15. More groups: a second proxy (not built here).

A group's IP never changes while the group exists (the EIP is retained); changing it (at most
once a week, SEBI) means replacing the group's EIP and re-registering with the broker.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_stacks.nag import acknowledge

BASE_PORT = 3128
FIRST_HOST = 10
#: API domains the proxy lets through (Kite, Angel One SmartAPI, Shoonya, Zebu)
BROKER_DOMAINS = (".kite.trade", ".angelone.in", ".angelbroking.com", ".shoonya.com", ".mynt.in")
#: (instance type, IPv4 addresses per ENI), smallest first (EC2 docs, "IP addresses per network interface")
INSTANCE_TYPES = (("t4g.nano", 2), ("t4g.small", 4), ("t4g.medium", 6), ("t4g.xlarge", 15))


@dataclass(frozen=True)
class GroupSpec:
    """One egress group as declared in config/egress.json (ADMIN-declared family or trader)."""

    name: str
    users: tuple[str, ...]
    ip_since: str | None = None


def instance_type_for(groups: int) -> str:
    for name, ips in INSTANCE_TYPES:
        if groups <= ips:
            return name
    raise ValueError(f"{groups} egress groups exceed one proxy's {INSTANCE_TYPES[-1][1]} addresses: split them")


def group_addresses(subnet_cidr: str, count: int) -> list[str]:
    """Fixed private IPs ``.10``, ``.11``, ... of the proxy's subnet."""
    network = ipaddress.ip_network(subnet_cidr)
    return [str(network.network_address + FIRST_HOST + i) for i in range(count)]


def squid_config(vpc_cidr: str, addresses: list[str]) -> str:
    lines = [
        f"acl localnet src {vpc_cidr}",
        "acl SSL_ports port 443",
        "acl CONNECT method CONNECT",
        f"acl brokers dstdomain {' '.join(BROKER_DOMAINS)}",
        "http_access deny !SSL_ports",
        "http_access allow CONNECT localnet brokers",
        "http_access deny all",
        "cache deny all",
        "access_log none",
        "via off",
        "forwarded_for delete",
    ]
    for i, address in enumerate(addresses):
        lines += [f"http_port {BASE_PORT + i} name=g{i}", f"acl g{i} myportname g{i}",
                  f"tcp_outgoing_address {address} g{i}"]
    return "\n".join(lines) + "\n"


#: the auth-broker VPC's first public subnet (10.40.0.0/16, public /24 subnets first)
PROXY_SUBNET_CIDR = "10.40.0.0/24"


def planned_routing(groups: list[GroupSpec], subnet_cidr: str = PROXY_SUBNET_CIDR) -> dict:
    """``QL_EGRESS_GROUPS`` without the EIP addresses (for stacks that cannot reference them)."""
    addresses = group_addresses(subnet_cidr, len(groups))
    return {g.name: {"users": list(g.users), "proxy": f"http://{a}:{BASE_PORT + i}", "ip_since": g.ip_since}
            for i, (g, a) in enumerate(zip(groups, addresses))}


class EgressProxy(Construct):
    """The proxy, its ENI with one private IP per group, and one Elastic IP per group.

    Attributes:
        eips: one ``CfnEIP`` per group (in ``groups`` order).
        proxy_urls: ``http://<private ip>:<port>`` per group name (plain strings).
        security_group: the proxy's; clients need egress to ``ports`` on ``addresses``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.Vpc, groups: list[GroupSpec],
                 name_prefix: str, vpc_cidr: str = "10.40.0.0/16") -> None:
        super().__init__(scope, construct_id)
        if not groups:
            raise ValueError("EgressProxy needs at least one group")
        subnet = vpc.public_subnets[0]
        if subnet.ipv4_cidr_block != PROXY_SUBNET_CIDR:
            raise ValueError(f"the proxy subnet is {subnet.ipv4_cidr_block}, planned_routing assumes {PROXY_SUBNET_CIDR}")
        self.groups = list(groups)
        self.addresses = group_addresses(subnet.ipv4_cidr_block, len(groups))
        self.ports = [BASE_PORT + i for i in range(len(groups))]
        self.proxy_urls = {g.name: f"http://{a}:{p}" for g, a, p in zip(groups, self.addresses, self.ports)}
        self.eips = [
            ec2.CfnEIP(self, f"GroupIp{i}", domain="vpc",
                       tags=[{"key": "Name", "value": f"{name_prefix}-egress-{g.name}"},
                             {"key": "egress-group", "value": g.name}])
            for i, g in enumerate(groups)
        ]
        for eip in self.eips:
            eip.apply_removal_policy(RemovalPolicy.RETAIN)  # the broker has this IP registered

        self.security_group = ec2.SecurityGroup(
            self, "ProxySg", vpc=vpc, allow_all_outbound=False,
            description="Egress proxy: CONNECT from the VPC on one port per group, HTTPS out to the brokers")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to broker APIs")
        self.security_group.add_ingress_rule(
            ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp_range(self.ports[0], self.ports[-1]),
            "broker-calling Lambdas of this VPC, one port per egress group")

        self.eni = ec2.CfnNetworkInterface(
            self, "Eni", subnet_id=subnet.subnet_id, group_set=[self.security_group.security_group_id],
            description="egress proxy: one private IP per egress group",
            private_ip_addresses=[ec2.CfnNetworkInterface.PrivateIpAddressSpecificationProperty(
                private_ip_address=a, primary=(i == 0)) for i, a in enumerate(self.addresses)])
        for i, (eip, address) in enumerate(zip(self.eips, self.addresses)):
            ec2.CfnEIPAssociation(self, f"GroupIpAssociation{i}", allocation_id=eip.attr_allocation_id,
                                  network_interface_id=self.eni.ref, private_ip_address=address)

        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                        description="Egress proxy instance: SSM administration only",
                        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")])
        acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
                    "The proxy is administered through SSM Session Manager (no SSH, no key pair); the AWS "
                    "managed policy is the documented minimum for the SSM agent.")
        profile = iam.CfnInstanceProfile(self, "Profile", roles=[role.role_name])
        image = ec2.MachineImage.latest_amazon_linux2023(cpu_type=ec2.AmazonLinuxCpuType.ARM_64).get_image(self)
        script = "\n".join([
            "#!/bin/bash", "set -euo pipefail", "dnf install -y squid",
            "cat > /etc/squid/squid.conf <<'EOF'", squid_config(vpc_cidr, self.addresses).rstrip(), "EOF",
            "systemctl enable --now squid",
        ])
        self.instance = ec2.CfnInstance(
            self, "Instance", image_id=image.image_id, instance_type=instance_type_for(len(groups)),
            iam_instance_profile=profile.ref, monitoring=True, disable_api_termination=True,
            network_interfaces=[ec2.CfnInstance.NetworkInterfaceProperty(
                device_index="0", network_interface_id=self.eni.ref)],
            metadata_options=ec2.CfnInstance.MetadataOptionsProperty(http_tokens="required"),
            block_device_mappings=[ec2.CfnInstance.BlockDeviceMappingProperty(
                device_name="/dev/xvda", ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_size=8,
                                                                         volume_type="gp3"))],
            user_data=Fn.base64(script),
            tags=[{"key": "Name", "value": f"{name_prefix}-egress-proxy"}],
        )
        cloudwatch.CfnAlarm(
            self, "RecoverAlarm", alarm_description="Recover the egress proxy in place (same ENI, IPs, EIPs)",
            namespace="AWS/EC2", metric_name="StatusCheckFailed_System", statistic="Maximum",
            period=int(Duration.minutes(1).to_seconds()), evaluation_periods=2, threshold=0,
            comparison_operator="GreaterThanThreshold",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="InstanceId", value=self.instance.ref)],
            alarm_actions=[Fn.sub("arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover")],
        )

    def client_rule(self, security_group: ec2.ISecurityGroup) -> None:
        """Let ``security_group`` (a broker-calling Lambda's) reach the proxy's group ports."""
        cidr = f"{self.addresses[0]}/{32}" if len(self.addresses) == 1 else None
        peer = ec2.Peer.ipv4(cidr) if cidr else ec2.Peer.ipv4(
            str(ipaddress.ip_network(f"{self.addresses[0]}/27", strict=False)))
        security_group.add_egress_rule(peer, ec2.Port.tcp_range(self.ports[0], self.ports[-1]),
                                       "the egress proxy (one port per egress group)")

    def routing_env(self, users: dict[str, tuple[str, ...]] | None = None, with_ips: bool = True) -> dict:
        """The ``QL_EGRESS_GROUPS`` mapping (shared_utils.egress): per group its users, proxy URL,
        ``ip_since`` and (``with_ips``, same stack only) the Elastic IP's address token."""
        out = {}
        for group, eip in zip(self.groups, self.eips):
            out[group.name] = {"users": list(group.users), "proxy": self.proxy_urls[group.name],
                               "ip_since": group.ip_since, **({"ip": eip.ref} if with_ips else {})}
        return out
