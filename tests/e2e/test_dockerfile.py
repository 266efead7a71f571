"""The container image as written (no Docker engine runs here): parsed with dockerfile-parse and checked."""

import re
import shlex
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import ROOT

COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make)\b")


@pytest.fixture(scope="module")
def stages():
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    args = {"PYTHON_IMAGE": None, "WARDGATE_UID": None}
    stages: dict[str, list[dict]] = {}
    current = None
    for instruction in parser.structure:
        if instruction["instruction"] == "ARG" and current is None:
            name, _, default = instruction["value"].partition("=")
            args[name] = default
        if instruction["instruction"] == "FROM":
            current = instruction["value"].split()[-1]
            stages[current] = [instruction]
        elif current is not None:
            stages[current].append(instruction)
    stages["_args"] = [args]  # type: ignore[list-item]
    return stages


def values(stage, name):
    return [i["value"] for i in stage if i["instruction"] == name]


def test_base_image_is_pinned_to_a_full_version(stages):
    image = stages["_args"][0]["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.12\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), image


def test_build_stage_installs_with_the_ci_make_target(stages):
    assert any("make install-runtime" in run for run in values(stages["build"], "RUN"))


@pytest.mark.parametrize("target", ["runtime", "runtime-cuda"])
def test_final_stages_carry_no_compiler_and_run_as_a_fixed_non_root_uid(stages, target):
    chain = stages["runtime"] + (stages[target][1:] if target != "runtime" else [])
    assert not any(COMPILERS.search(run) for run in values(chain, "RUN") if "apt-get install" in run)
    users = values(chain, "USER")
    assert users[-1] == "${WARDGATE_UID}:${WARDGATE_UID}"
    uid = next(a["value"].split("=")[1] for a in stages["runtime"] if a["instruction"] == "ARG")
    assert uid.isdigit()
    assert int(uid) >= 10000


def test_entrypoint_ports_models_and_policies(stages):
    runtime = stages["runtime"]
    assert shlex.split(values(runtime, "ENTRYPOINT")[0].strip("[]").replace(",", " ")) == ["wardgate", "run"]
    assert set(" ".join(values(runtime, "EXPOSE")).split()) == {"8080", "8081"}
    copies = " ".join(values(runtime, "COPY"))
    assert "models/injection/model.int8.onnx" in copies
    assert "models/pii-ner/model.int8.onnx" in copies
    assert "policies/ /etc/wardgate/policies/" in copies
    assert "--from=build /opt/wardgate /opt/wardgate" in copies


def test_every_model_the_images_settings_name_is_copied_into_it(stages):
    """The settings' defaults are relative to a checkout: the image names its own copies, and each must be there."""
    runtime = stages["runtime"]
    named = re.findall(r"WARDGATE_SCANNERS__\w+=(/opt/wardgate/models/\S+)", " ".join(values(runtime, "ENV")))
    assert len(named) == 4  # injection, its multilingual model, language identification, the PII tagger
    copies = [value.split() for value in values(runtime, "COPY") if "/opt/wardgate/models/" in value]
    copied = {(destination + Path(source).name) for *sources, destination in copies for source in sources}
    for path in named:
        assert path.rstrip("/") in {target.rstrip("/") for target in copied} | {
            str(Path(target).parent) for target in copied
        }, path


def test_cuda_target_swaps_onnxruntime_for_the_gpu_build(stages):
    run = " ".join(values(stages["runtime-cuda"], "RUN"))
    assert "uninstall --yes onnxruntime" in run
    assert "onnxruntime-gpu" in run


def test_only_the_cuda_target_carries_the_fp32_injection_graph(stages):
    assert "models/injection/model.onnx" not in " ".join(values(stages["runtime"], "COPY"))
    assert "models/injection/model.onnx" in " ".join(values(stages["runtime-cuda"], "COPY"))
    assert "models/injection/model.onnx" not in (ROOT / ".dockerignore").read_text().split()


def test_install_runtime_target_uses_the_runtime_lock():
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("install-runtime:", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes -r requirements/runtime.txt" in target
    assert "requirements/opa.txt" in target
    runtime_lock = (ROOT / "requirements" / "runtime.txt").read_text()
    assert "mitmproxy==12.2.3" in runtime_lock
    assert "pytest==" not in runtime_lock
