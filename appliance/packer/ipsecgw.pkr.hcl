# Packer template: an ipsecgw AMI built from the official Debian 12 AMI (the alternative to
# importing the image that appliance/build-image.sh makes; see docs/aws-import.md).
#
#   appliance/build-deb.sh                      # -> target/appliance/ipsecgw_*.deb
#   cd appliance/packer
#   packer init ipsecgw.pkr.hcl
#   packer build -var region=eu-west-1 -var deb_path=../../target/appliance/ipsecgw_0.1.0-1_amd64.deb ipsecgw.pkr.hcl
#
# The AMI has ipsecgw installed and enabled but idle: instances launched from it start the
# tunnel once /etc/ipsecgw/ipsecgw.toml exists (EC2 user-data, see docs/operator-guide.md).

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "AWS region to build the AMI in."
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "deb_path" {
  type        = string
  default     = "../../target/appliance/ipsecgw_0.1.0-1_amd64.deb"
  description = "The package built by appliance/build-deb.sh."
}

variable "subnet_id" {
  type        = string
  default     = null
  description = "Subnet for the build instance (default VPC's default subnet if null)."
}

locals {
  stamp = formatdate("YYYYMMDD-hhmmss", timestamp())
}

source "amazon-ebs" "debian12" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id

  # The official Debian 12 AMIs (Debian's AWS account).
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  ssh_username = "admin"

  # IMDSv2 only on the build instance; hop limit 2 as the builder may run in a container.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
  # Instances launched from the AMI default to IMDSv2 as well.
  imds_support = "v2.0"

  ami_name        = "ipsecgw-debian12-amd64-${local.stamp}"
  ami_description = "ipsecgw IKEv2/IPsec gateway on Debian 12 (starts when /etc/ipsecgw/ipsecgw.toml exists)"
  ena_support     = true
  sriov_support   = true

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 8
    volume_type           = "gp3"
    delete_on_termination = true
  }

  tags = {
    Name    = "ipsecgw-debian12-amd64-${local.stamp}"
    Project = "ipsecgw"
    Base    = "{{ .SourceAMIName }}"
  }
}

build {
  sources = ["source.amazon-ebs.debian12"]

  provisioner "file" {
    source      = var.deb_path
    destination = "/tmp/ipsecgw.deb"
  }

  provisioner "file" {
    source      = "${path.root}/../sysctl/60-ipsecgw.conf"
    destination = "/tmp/60-ipsecgw.conf"
  }

  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "DEBIAN_FRONTEND=noninteractive",
    ]
    inline = [
      "set -eu",
      "apt-get update -q",
      "apt-get install -y -q --no-install-recommends /tmp/ipsecgw.deb",
      # The package ships the same file in /usr/lib/sysctl.d; this copy makes the settings
      # visible (and editable) in /etc and applies them now.
      "install -o root -g root -m 0644 /tmp/60-ipsecgw.conf /etc/sysctl.d/60-ipsecgw.conf",
      "sysctl --system >/dev/null",
      "test \"$(sysctl -n net.ipv4.ip_forward)\" = 1",
      "test \"$(sysctl -n net.ipv4.conf.all.rp_filter)\" = 2",
      "test \"$(sysctl -n net.ipv4.fib_multipath_hash_policy)\" = 1",
      "systemctl is-enabled ipsecgw.service ipsecgw.path",
      "test \"$(stat -c %a /etc/ipsecgw)\" = 700",
      "test ! -e /etc/ipsecgw/ipsecgw.toml",
      "ipsecgw --version",
      "apt-get clean",
      "rm -rf /var/lib/apt/lists/* /tmp/ipsecgw.deb /tmp/60-ipsecgw.conf",
      # Instances from the AMI must run cloud-init (and so user-data) afresh.
      "cloud-init clean --logs --seed",
    ]
  }
}
