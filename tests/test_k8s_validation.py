"""The offline manifest validator itself: it must accept valid objects and reject unknown fields."""

from __future__ import annotations

import copy

import k8s_validation as kv
import pytest

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "n"},
    "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "template": {
            "metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
        },
    },
}

LWS = {
    "apiVersion": "leaderworkerset.x-k8s.io/v1",
    "kind": "LeaderWorkerSet",
    "metadata": {"name": "l", "namespace": "n"},
    "spec": {
        "leaderWorkerTemplate": {
            "size": 2,
            "workerTemplate": {"spec": {"containers": [{"name": "w", "image": "i"}]}},
        }
    },
}

RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "r", "namespace": "n"},
    "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}]},
}


def test_valid_builtin_and_custom_resources_pass():
    assert kv.validate_manifest(DEPLOYMENT) == []
    assert kv.validate_manifest(LWS) == []
    assert kv.validate_manifest(RULE) == []


@pytest.mark.parametrize(
    "obj, path",
    [
        # a typo in a container of a built-in kind
        (DEPLOYMENT, ("spec", "template", "spec", "containers", 0)),
        # a typo deep inside the PodSpec a CRD embeds (LWS worker template)
        (LWS, ("spec", "leaderWorkerTemplate", "workerTemplate", "spec", "containers", 0)),
        # a typo in a CRD's own field
        (RULE, ("spec", "groups", 0, "rules", 0)),
        # a typo in a custom resource's metadata (checked against the strict ObjectMeta)
        (RULE, ("metadata",)),
    ],
)
def test_unknown_field_fails(obj, path):
    bad = copy.deepcopy(obj)
    node = bad
    for p in path:
        node = node[p]
    node["imagePullPolcy"] = "Always"
    errors = kv.validate_manifest(bad)
    assert errors and "imagePullPolcy" in errors[0], errors


def test_wrong_type_fails():
    bad = copy.deepcopy(LWS)
    bad["spec"]["leaderWorkerTemplate"]["size"] = "two"
    assert any("size" in e for e in kv.validate_manifest(bad))


def test_prometheusrule_re2_pattern_is_rewritten_not_dropped():
    """`^(?i)(abort|warn)?$` is RE2; the validator must still enforce it, case-insensitively."""
    ok = copy.deepcopy(RULE)
    ok["spec"]["groups"][0]["partial_response_strategy"] = "WARN"
    assert kv.validate_manifest(ok) == []
    bad = copy.deepcopy(RULE)
    bad["spec"]["groups"][0]["partial_response_strategy"] = "ignore"
    assert any("partial_response_strategy" in e for e in kv.validate_manifest(bad))


def test_strictify_respects_preserve_unknown_fields_and_free_maps():
    schema = {
        "type": "object",
        "properties": {
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
    }
    s = kv.strictify(schema)
    assert s["additionalProperties"] is False
    assert "additionalProperties" not in s["properties"]["open"]
    assert s["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert s["properties"]["closed"]["additionalProperties"] is False


def test_kind_without_schema_is_an_error():
    errors = kv.validate_manifest({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert errors and "no schema" in errors[0]


def test_unwrap_restores_secrets_and_integers():
    recorded = {
        "replicas": 2.0,
        "ratio": 0.9,
        "stringData": {kv.SECRET_SIG_KEY: kv.SECRET_SIG_VALUE, "value": {"token": "t"}},
    }
    assert kv.unwrap(recorded) == {"replicas": 2, "ratio": 0.9, "stringData": {"token": "t"}}
    assert "t" not in list(kv.strings_outside_secrets(recorded))
