"""Decodes OTLP/HTTP trace exports with the OpenTelemetry protobuf types
(PyPI opentelemetry-proto): each file named on the command line is one
ExportTraceServiceRequest body. Prints one JSON object per span."""

import json
import sys

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


for path in sys.argv[1:]:
    request = ExportTraceServiceRequest()
    with open(path, "rb") as f:
        request.ParseFromString(f.read())
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                print(json.dumps({
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "flags": span.flags,
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "events": [
                        {"name": e.name, "time": e.time_unix_nano, "attributes": attributes(e.attributes)}
                        for e in span.events
                    ],
                    "status": span.status.code,
                }))
