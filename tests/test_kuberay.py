"""deploy/kuberay/ checked without a Kubernetes cluster: every manifest against a small schema of the fields its kind
needs (KubeRay's RayCluster among them), the references between them (Secrets, Services' selectors, the head's
Service name), and every `tuner` command in them against the CLI."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.test_postgres import ROOT

DEPLOY = ROOT / "deploy" / "kuberay"
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
QUANTITY = {"anyOf": [{"type": "string", "pattern": r"^[0-9.]+(m|Ki|Mi|Gi|Ti)?$"}, {"type": "integer"}]}
RESOURCES = {"type": "object", "required": ["requests", "limits"],
             "properties": {"requests": {"type": "object", "additionalProperties": QUANTITY},
                            "limits": {"type": "object", "additionalProperties": QUANTITY}}}
CONTAINER = {"type": "object", "required": ["name", "image", "resources"],
             "properties": {"name": NAME, "image": {"type": "string", "minLength": 1}, "resources": RESOURCES,
                            "command": {"type": "array", "items": {"type": "string"}},
                            "ports": {"type": "array", "items": {"type": "object", "required": ["containerPort"]}}}}
POD = {"type": "object", "required": ["spec"],
       "properties": {"spec": {"type": "object", "required": ["containers"],
                               "properties": {"containers": {"type": "array", "minItems": 1, "items": CONTAINER}}}}}
# KubeRay passes rayStartParams to `ray start` as flags: every value must be a string
START_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}}
SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("ray.io/v1", "RayCluster"): {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["rayVersion", "headGroupSpec", "workerGroupSpecs"],
        "properties": {
            "rayVersion": {"type": "string", "pattern": r"^2\.\d+\.\d+$"},
            "headGroupSpec": {"type": "object", "required": ["rayStartParams", "template"],
                              "properties": {"rayStartParams": START_PARAMS, "template": POD}},
            "workerGroupSpecs": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["groupName", "replicas", "minReplicas", "maxReplicas",
                                               "rayStartParams", "template"],
                "properties": {"groupName": NAME, "replicas": {"type": "integer", "minimum": 0},
                               "minReplicas": {"type": "integer", "minimum": 0},
                               "maxReplicas": {"type": "integer", "minimum": 1},
                               "rayStartParams": START_PARAMS, "template": POD}}}}}}},
    ("apps/v1", "Deployment"): {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["selector", "template"], "properties": {"template": POD}}}},
    ("apps/v1", "StatefulSet"): {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["serviceName", "selector", "template"], "properties": {"template": POD}}}},
    ("batch/v1", "Job"): {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["template"], "properties": {"template": {"allOf": [POD, {"properties": {
            "spec": {"required": ["restartPolicy"],
                     "properties": {"restartPolicy": {"enum": ["Never", "OnFailure"]}}}}}]}}}}},
    ("v1", "Service"): {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["selector", "ports"],
        "properties": {"type": {"enum": ["ClusterIP"]},  # nothing published: the dashboard has no authentication
                       "ports": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["port"]}}}}}},
    ("v1", "Secret"): {"type": "object", "required": ["stringData"],
                       "properties": {"stringData": {"type": "object", "additionalProperties": {"type": "string"}}}},
}
ENVELOPE = {"type": "object", "required": ["apiVersion", "kind", "metadata"],
            "properties": {"metadata": {"type": "object", "required": ["name"], "properties": {"name": NAME}}}}


def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((DEPLOY / name).read_text())
            if doc]


def validate(doc: dict[str, Any]) -> None:
    jsonschema.validate(doc, ENVELOPE)
    key = (doc["apiVersion"], doc["kind"])
    assert key in SCHEMAS, f"{doc['metadata']['name']}: no schema for {key}"
    jsonschema.validate(doc, SCHEMAS[key])


def pod_templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "RayCluster":
        spec = doc["spec"]
        return [spec["headGroupSpec"]["template"], *(group["template"] for group in spec["workerGroupSpecs"])]
    return [doc["spec"]["template"]] if "template" in doc.get("spec", {}) else []


def containers() -> list[dict[str, Any]]:
    return [c for doc in manifests() for pod in pod_templates(doc) for c in pod["spec"]["containers"]]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_manifest_matches_its_schema(doc: dict[str, Any]) -> None:
    validate(doc)


def test_the_schema_can_fail() -> None:
    cluster = next(d for d in manifests() if d["kind"] == "RayCluster")
    for break_it in (lambda d: d["spec"].pop("headGroupSpec"),
                     lambda d: d["spec"]["workerGroupSpecs"][0]["rayStartParams"].update({"num-gpus": 1}),
                     lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].pop("image")):
        broken = copy.deepcopy(cluster)
        break_it(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_ray_cluster_groups_and_ports() -> None:
    cluster = next(d for d in manifests() if d["kind"] == "RayCluster")
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {6379, 8265, 10001} <= {p["containerPort"] for p in head["ports"]}  # GCS, dashboard, Ray Client
    groups = cluster["spec"]["workerGroupSpecs"]
    for group in groups:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    gpu = [g for g in groups if "num-gpus" in g["rayStartParams"]]
    assert gpu, "a GPU group, for studies with resources.gpus"
    limits = gpu[0]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert str(limits["nvidia.com/gpu"]) == gpu[0]["rayStartParams"]["num-gpus"]
    wanted = re.search(r"ray\[default\]>=(\d+)\.(\d+)", (ROOT / "pyproject.toml").read_text())
    assert tuple(int(n) for n in cluster["spec"]["rayVersion"].split(".")[:2]) >= tuple(map(int, wanted.groups()))


def test_one_image_with_ray_everywhere() -> None:
    images = {c["image"] for c in containers() if c["name"] != "postgres"}
    built = re.search(r"-t (\S+) \.", (DEPLOY / "Dockerfile").read_text()).group(1)
    assert images == {built}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'pip install ".[ray]"' in dockerfile and "wget" in dockerfile  # KubeRay's probes run wget


def test_references_resolve() -> None:
    docs = manifests()
    secrets = {d["metadata"]["name"]: set(d["stringData"]) for d in docs if d["kind"] == "Secret"}
    for container in containers():
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets.get(ref["name"], set()), f"{container['name']}: {ref}"
        for source in container.get("envFrom", []):
            assert source["secretRef"]["name"] in secrets
    labels = [pod.get("metadata", {}).get("labels", {}) for d in docs for pod in pod_templates(d)]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= pod.items() for pod in labels), f"service {service['metadata']['name']} selects none"
    store = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    assert store["TUNER_STORAGE"] == (f"postgresql+psycopg://{store['POSTGRES_USER']}:{store['POSTGRES_PASSWORD']}"
                                      f"@postgres:5432/{store['POSTGRES_DB']}")


def test_tuner_commands_are_real_cli_commands(cli) -> None:
    cluster = next(d for d in manifests() if d["kind"] == "RayCluster")
    head_service = f"{cluster['metadata']['name']}-head-svc:6379"  # the Service KubeRay makes for the head
    commands = [c["command"] for c in containers() if c.get("command", [""])[0] == "tuner"]
    assert {cmd[1] for cmd in commands} == {"start", "dashboard"}
    for cmd in commands:
        help_text = cli(cmd[1], "--help").output
        for option in (part for part in cmd if part.startswith("--")):
            assert option in help_text, f"{' '.join(cmd)}: {option}"
        if cmd[1] == "start":
            assert cmd[cmd.index("--ray") + 1] == head_service
