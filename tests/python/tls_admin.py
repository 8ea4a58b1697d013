"""Drives hostendpointd from Python over mutual TLS, with stubs generated from proto/.

Usage: tls_admin.py PROTO_DIR OUT_DIR HOST:PORT CA_FILE CERT_FILE KEY_FILE

Connects with grpc.ssl_channel_credentials (the CA, the client's key and certificate), creates
two host endpoints and lists them, printing `listed: NAME@NODE ...`. Exits non-zero on failure.
"""

import sys

import grpc

from api_walkthrough import generate


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(proto_dir, out_dir, address, ca_file, cert_file, key_file):
    generate(proto_dir, out_dir)
    from hostendpoint.v1 import hostendpoint_pb2 as pb
    from hostendpoint.v1 import hostendpoint_pb2_grpc as rpc

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(ca_file),
        private_key=read(key_file),
        certificate_chain=read(cert_file),
    )
    with grpc.secure_channel(address, credentials) as channel:
        api = rpc.HostEndpointServiceStub(channel)
        for name, node in [("py-a", "n1"), ("py-b", "n2")]:
            hep = pb.HostEndpoint(
                metadata=pb.ObjectMeta(name=name),
                spec=pb.HostEndpointSpec(node=node, interface_name="eth0"),
            )
            created = api.CreateHostEndpoint(pb.CreateHostEndpointRequest(host_endpoint=hep))
            assert created.host_endpoint.metadata.uid, "the server sets a uid"
        listing = api.ListHostEndpoints(pb.ListHostEndpointsRequest())
        names = [f"{h.metadata.name}@{h.spec.node}" for h in listing.host_endpoints]
        print("listed:", " ".join(names))


if __name__ == "__main__":
    main(*sys.argv[1:])
