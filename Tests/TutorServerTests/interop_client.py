"""Interop check: Python grpcio, with stubs generated from protos/, against a running tutor server.

Usage: python interop_client.py PROTOS_DIR HOST:PORT
Prints one line per check; exits non-zero on the first failure.
"""
import importlib.util
import os
import sys
import tempfile

import shutil
import subprocess

import grpc


def generate_stubs(protos: str, out: str) -> None:
    """Python stubs for every .proto under `protos`: with grpcio-tools when installed (PyPI),
    else with Debian's protoc and grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc)."""
    files = [os.path.join(root, f)[len(protos) + 1:]
             for root, _, names in os.walk(protos) for f in names if f.endswith(".proto")]
    try:
        from grpc_tools import protoc
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        rc = protoc.main(["protoc", f"-I{protos}", f"-I{include}", f"--python_out={out}",
                          f"--grpc_python_out={out}", *files])
    except ImportError:
        plugin = shutil.which("grpc_python_plugin")
        rc = subprocess.call(["protoc", f"-I{protos}", f"--python_out={out}", f"--grpc_python_out={out}",
                              f"--plugin=protoc-gen-grpc_python={plugin}", *files])
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")


def main() -> int:
    protos, target, token = sys.argv[1], sys.argv[2], sys.argv[3]
    auth = [("authorization", f"Bearer {token}")]
    out = tempfile.mkdtemp(prefix="tutor-py-stubs-")
    generate_stubs(protos, out)
    sys.path.insert(0, out)
    from tutor.v1 import tutor_service_pb2 as tutor, tutor_service_pb2_grpc as tutor_grpc  # noqa: E402
    # The generated grpc/health/v1 package would shadow grpcio's own `grpc` package: load the
    # messages module by path and call the method by name.
    spec = importlib.util.spec_from_file_location("health_pb2", os.path.join(out, "grpc/health/v1/health_pb2.py"))
    health_pb2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(health_pb2)

    channel = grpc.insecure_channel(target)
    # Deadlines are generous: the test suite runs dozens of tests at once on two cores, and a
    # fresh clone embeds every note first; what is checked here is the wire, not the latency.
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                response_deserializer=health_pb2.HealthCheckResponse.FromString)
    status = check(health_pb2.HealthCheckRequest(service=""), timeout=60).status
    assert status == health_pb2.HealthCheckResponse.SERVING, status
    print("health: SERVING")

    stub = tutor_grpc.TutorServiceStub(channel)
    try:
        stub.StartSession(tutor.StartSessionRequest(student_id="py-student", curriculum_id="python-intro"), timeout=60)
        raise AssertionError("StartSession without a token succeeded")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.code()
    print("no token: UNAUTHENTICATED")

    session = stub.StartSession(tutor.StartSessionRequest(student_id="py-student", curriculum_id="python-intro"),
                                timeout=60, metadata=auth)
    assert session.session_id and session.state == tutor.Session.STATE_ACTIVE, session
    print(f"session: {session.session_id}")

    deltas, completed, started = [], None, None
    request = tutor.AskRequest(session_id=session.session_id, question="What is a variable?")
    request.options.max_new_tokens = 16
    for event in stub.Ask(request, timeout=120, metadata=auth):
        kind = event.WhichOneof("event")
        if kind == "started":
            started = event.started
        elif kind == "delta":
            deltas.append(event.delta.text)
        elif kind == "completed":
            completed = event.completed
    assert started is not None and completed is not None
    assert "".join(deltas) == completed.answer, (deltas, completed.answer)
    assert completed.usage.completion_tokens > 0
    print(f"ask: {len(deltas)} deltas, {completed.usage.completion_tokens} tokens")

    fetched = stub.GetSession(tutor.GetSessionRequest(session_id=session.session_id), timeout=60, metadata=auth)
    assert [t.question for t in fetched.turns] == ["What is a variable?"], fetched
    print("get: 1 turn")

    try:
        stub.GetSession(tutor.GetSessionRequest(session_id="nope"), timeout=60, metadata=auth)
        raise AssertionError("GetSession of an unknown session succeeded")
    except grpc.RpcError as error:
        # A student token learns nothing about sessions that aren't theirs, existing or not.
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.code()
    print("unknown session: PERMISSION_DENIED")

    try:
        stub.StartSession(tutor.StartSessionRequest(student_id="py-student", curriculum_id="astrology"), timeout=60,
                          metadata=auth)
        raise AssertionError("StartSession with an unknown curriculum succeeded")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
    print("unknown curriculum: INVALID_ARGUMENT")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
