"""The reference flow compiles to an Argo Workflows template, offline.

``argo-workflows create --only-json`` needs an S3-type datastore and uploads the
code package even when it only prints the template, so the test runs moto's S3
server on 127.0.0.1 with throwaway credentials and an isolated Metaflow home:
nothing but the loopback emulator is contacted and no cluster is needed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from components.spec.config import compose
from components.shell import LAUNCH_KEY
from conftest import S3_CREDENTIALS, moto_s3

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"
BUCKET = "axisflow-argo-test"
CREDENTIALS = S3_CREDENTIALS


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port, with one empty bucket."""
    with moto_s3(BUCKET) as (endpoint, client):
        yield endpoint, client


def _compile(endpoint: str, home: Path, *words: str) -> dict:
    """The WorkflowTemplate ``argo-workflows create --only-json`` prints for the flow with ``words`` (overrides, options)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "AWS_"))}
    env.update(
        {
            "METAFLOW_HOME": str(home),  # no user profile can point Metaflow at real services
            "METAFLOW_USER": os.environ.get("METAFLOW_USER") or "axisflow-tests",
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{BUCKET}/metaflow",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_S3_ENDPOINT_URL": endpoint,
            "METAFLOW_KUBERNETES_NAMESPACE": "axisflow",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": CREDENTIALS["region_name"],
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
    )
    result = subprocess.run(
        [sys.executable, str(FLOW), "argo-workflows", "create", "--only-json", *words],
        cwd=home, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"argo-workflows create failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def compiled(s3_endpoint, tmp_path_factory):
    """The WorkflowTemplate printed by ``argo-workflows create --only-json experiment=smoke``."""
    return _compile(s3_endpoint[0], tmp_path_factory.mktemp("argo"), "experiment=smoke")


@pytest.fixture(scope="module")
def compiled_gpu(s3_endpoint, tmp_path_factory):
    """The template of the digits experiment asking each branch task for 2 cores, 6000 MiB and one GPU."""
    overrides = ("experiment=digits_cnn_smoke", "experiment.resources.cpu=2", "experiment.resources.memory=6000", "experiment.resources.gpu=1")
    return _compile(s3_endpoint[0], tmp_path_factory.mktemp("argo-gpu"), *overrides, "--review-allow", "all")


def _templates(workflow: dict) -> dict[str, dict]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


def _env(template: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in template["container"].get("env", [])}


def test_argo_template_fans_out_over_the_start_steps_branches(compiled):
    assert compiled["kind"] == "WorkflowTemplate"
    templates = _templates(compiled)
    dag = {task["name"]: task for task in templates[compiled["spec"]["entrypoint"]]["dag"]["tasks"]}
    fanout = [task for task in dag.values() if "withParam" in task]
    assert len(fanout) == 1, f"expected one foreach fan-out, got {[t['name'] for t in fanout]}"
    assert "tasks.start.outputs.parameters.num-splits" in fanout[0]["withParam"]
    inner = [task["template"] for task in templates[fanout[0]["template"]]["dag"]["tasks"]]
    assert inner == ["branch"]
    assert dag["join"]["depends"].startswith(fanout[0]["name"])
    for name in ("start", "branch", "join", "end"):
        command = " ".join(templates[name]["container"]["command"])
        assert "python investigation.py" in command and f"step {name} " in command, name


def test_argo_template_ships_the_resolved_config_in_its_code_package(compiled, s3_endpoint):
    _, client = s3_endpoint
    env = _env(_templates(compiled)["branch"])
    # Tasks read the config Metaflow resolved at deploy time from the code package, not from Hydra.
    assert json.loads(env["METAFLOW_FLOW_CONFIG_VALUE"]) == {"config": "kv.config"}
    url = env["METAFLOW_CODE_URL"]
    assert url.startswith(f"s3://{BUCKET}/metaflow/InvestigationFlow/"), url
    blob = client.get_object(Bucket=BUCKET, Key=url.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as package:
        names = set(package.getnames())
        stored = json.load(package.extractfile(".mf_meta/CONFIG"))
    assert {".mf_code/components/shell.py", ".mf_code/configs/config.yaml", ".mf_code/configs/experiment/smoke.yaml"} <= names
    config = stored["user_configs"]["config"][0]
    assert config[LAUNCH_KEY]["overrides"] == ["experiment=smoke"]
    assert config[LAUNCH_KEY]["lint"]["verdict"] == "clean", "the deployment passed the lint gate"
    assert {k: v for k, v in config.items() if k != LAUNCH_KEY} == compose(["experiment=smoke"])


def test_argo_template_requests_the_configured_resources_for_the_branch_step(compiled_gpu, compiled):
    branch = _templates(compiled_gpu)["branch"]["container"]["resources"]
    # Metaflow's Kubernetes backend takes the larger of @resources and its own defaults (1 core, 4096 MiB).
    assert float(branch["requests"]["cpu"]) == 2 and float(branch["requests"]["memory"].rstrip("M")) == 6000
    assert str(branch["limits"]["nvidia.com/gpu"]) == "1"
    start = _templates(compiled_gpu)["start"]["container"]["resources"]
    assert "nvidia.com/gpu" not in start.get("limits", {}), "only the branch step asks for a GPU"
    assert "nvidia.com/gpu" not in _templates(compiled)["branch"]["container"]["resources"].get("limits", {})
