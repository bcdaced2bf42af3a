"""A tiny gRPC Firestore server that answers ABORTED where told (the npm emulator never aborts a
transaction), and a `FirestoreStore` pointed at it. Used by the contention tests of the store
(tests/unit/shared/store/) and of the lease engine (tests/unit/session_daemon/leases/)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.cloud.firestore_v1 import types

from shared.store.firestore import FirestoreStore

_SERVICE = "google.firestore.v1.Firestore"


class AbortingFirestore:
    """Begins transactions, reads every document as missing, and aborts the chosen step."""

    def __init__(self, abort: str) -> None:
        self.abort = abort  # "commit" or "read"
        self.calls: dict[str, int] = {"begin": 0, "read": 0, "commit": 0, "rollback": 0}
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    def begin(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("begin")
        return types.BeginTransactionResponse(transaction=b"tx")

    def read(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._count("read")
        if self.abort == "read":
            context.abort(grpc.StatusCode.ABORTED, "contention on read")
        for name in request.documents:
            yield types.BatchGetDocumentsResponse(missing=name, read_time=datetime.now(UTC))

    def commit(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("commit")
        context.abort(grpc.StatusCode.ABORTED, "contention on commit")

    def rollback(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("rollback")
        return types.RollbackRequest()  # stands in for Empty: both serialize to nothing

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(fn: Callable[..., Any], req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.deserialize, response_serializer=resp.serialize
            )

        return grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "BeginTransaction": unary(
                    self.begin, types.BeginTransactionRequest, types.BeginTransactionResponse
                ),
                "BatchGetDocuments": grpc.unary_stream_rpc_method_handler(
                    self.read,
                    request_deserializer=types.BatchGetDocumentsRequest.deserialize,
                    response_serializer=types.BatchGetDocumentsResponse.serialize,
                ),
                "Commit": unary(self.commit, types.CommitRequest, types.CommitResponse),
                "Rollback": unary(self.rollback, types.RollbackRequest, types.RollbackRequest),
            },
        )


@contextmanager
def serve_store(
    fake: AbortingFirestore, project: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FirestoreStore]:
    """A `FirestoreStore` of `project` talking to `fake` on a local port, closed on exit."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((fake.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with monkeypatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
        store = FirestoreStore(project)
    try:
        yield store
    finally:
        store.close()
        server.stop(grace=None)
