"""Drives hostendpointd from Python with stubs generated from proto/ by grpcio-tools.

Usage: api_walkthrough.py PROTO_DIR OUT_DIR HOST:PORT

Generates the stubs into OUT_DIR, then runs create, get, list, update with a conflict, delete
and a watch against the server, asserting what a user would see. Exits non-zero on failure.
"""

import os
import subprocess
import sys

import grpc
import grpc_tools


def generate(proto_dir, out_dir):
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc",
            f"-I{proto_dir}", f"-I{well_known}",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
            os.path.join(proto_dir, "hostendpoint/v1/hostendpoint.proto"),
        ],
        check=True,
    )
    sys.path.insert(0, out_dir)


def main(proto_dir, out_dir, address):
    generate(proto_dir, out_dir)
    from hostendpoint.v1 import hostendpoint_pb2 as pb
    from hostendpoint.v1 import hostendpoint_pb2_grpc as rpc

    channel = grpc.insecure_channel(address)
    api = rpc.HostEndpointServiceStub(channel)

    sample = pb.HostEndpoint(
        metadata=pb.ObjectMeta(name="endpoint1", labels={"type": "database"}),
        spec=pb.HostEndpointSpec(
            node="host1",
            interface_name="eth0",
            expected_ips=["192.168.0.1"],
            profiles=["prof1", "prof2"],
            ports=[pb.EndpointPort(name="some-port", protocol="TCP", port=1234)],
        ),
    )
    created = api.CreateHostEndpoint(pb.CreateHostEndpointRequest(host_endpoint=sample)).host_endpoint
    assert created.metadata.resource_version == 1, created
    assert created.metadata.uid, "the server sets a uid"

    got = api.GetHostEndpoint(pb.GetHostEndpointRequest(name="endpoint1")).host_endpoint
    assert got == created, (got, created)

    listing = api.ListHostEndpoints(pb.ListHostEndpointsRequest(node="host1"))
    assert [h.metadata.name for h in listing.host_endpoints] == ["endpoint1"]
    assert listing.resource_version == 1 and listing.store_uid

    edit = pb.HostEndpoint()
    edit.CopyFrom(created)
    edit.spec.interface_name = "eth1"
    updated = api.UpdateHostEndpoint(pb.UpdateHostEndpointRequest(host_endpoint=edit)).host_endpoint
    assert updated.metadata.resource_version == 2
    edit.spec.interface_name = "eth2"  # still carries resource_version 1: stale
    try:
        api.UpdateHostEndpoint(pb.UpdateHostEndpointRequest(host_endpoint=edit))
        raise AssertionError("a stale update must conflict")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.ABORTED, err
        assert "latest: 2" in err.details(), err.details()

    watch = api.WatchHostEndpoints(pb.WatchHostEndpointsRequest(node="host1"))
    events = iter(event for batch in watch for event in batch.events)
    first = next(events)
    assert first.type == pb.EVENT_TYPE_ADDED and first.host_endpoint.metadata.name == "endpoint1"
    synced = next(events)
    assert synced.type == pb.EVENT_TYPE_SYNCED and synced.resource_version == 2, synced

    deleted = api.DeleteHostEndpoint(
        pb.DeleteHostEndpointRequest(name="endpoint1", resource_version=2)
    ).host_endpoint
    assert deleted.metadata.resource_version == 3
    event = next(e for e in events if e.type != pb.EVENT_TYPE_BOOKMARK)
    assert event.type == pb.EVENT_TYPE_DELETED and event.resource_version == 3, event
    watch.cancel()

    try:
        api.GetHostEndpoint(pb.GetHostEndpointRequest(name="endpoint1"))
        raise AssertionError("the object is gone")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
    print("python walkthrough: ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
